"""The configuration turned into what the dialplan templates print: one value per extension.

Every decision about *what* the dialplan does is made here, in Python, where it is tested; the
Jinja2 templates only decide *how* it is written, so an admin's modified template cannot get the
routing wrong by accident. Iteration follows the YAML's order for DIDs and agents (lists) and
sorted ids for ring groups, so the same YAML always gives the same files.

The static fallback (what runs after ``socket`` when esl-apps is down) rings a group's members at
once, then leaves a voicemail. Which group: the one the flow's ``error_exit`` leads to (where the
app itself sends a call when a node fails), else the first ring group reachable from ``start``
(breadth first, children in the order written, through ``goto``); a ``queue`` node counts as its
group, a ``transfer`` to a group's extension as that group. No group: the first voicemail box
reachable; nothing at all: hang up with NORMAL_TEMPORARY_FAILURE (the caller's network plays its
"cannot be completed" announcement, never silence).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

from esl_apps.config import Config
from esl_apps.config.flows import GotoNode, QueueNode, RingGroupNode, TransferNode, VoicemailNode
from esl_apps.config.pbx import Agent, PbxConfig
from esl_apps.dialplan import contract

__all__ = [
    "AgentEntry",
    "DialplanModel",
    "DidEntry",
    "Fallback",
    "FeatureEntry",
    "GroupEntry",
    "Voicemail",
    "WrapupEntry",
    "build_model",
    "did_expression",
    "exact_expression",
    "pcre_escape",
]

# Features whose code may be followed by digits (the pause reason): ``^\*23(\d*)$``.
FEATURES_WITH_ARGUMENT = frozenset({"pause"})
FEATURE_ORDER = ("login", "logout", "pause", "unpause")


def pcre_escape(text: str) -> str:
    """Backslash every character that is not a letter, digit or ``_`` (always literal in PCRE)."""
    return "".join(c if c.isascii() and (c.isalnum() or c == "_") else "\\" + c for c in text)


def exact_expression(number: str) -> str:
    """``^<number>$`` with the number's metacharacters escaped (``*21`` -> ``^\\*21$``)."""
    return f"^{pcre_escape(number)}$"


def did_expression(number: str) -> str:
    """E.164 DIDs match with or without the ``+`` (carriers differ: ``+44...`` or ``44...``);
    national numbers (no ``+``) match exactly as written."""
    if number.startswith("+"):
        return f"^\\+?{pcre_escape(number[1:])}$"
    return exact_expression(number)


@dataclass(frozen=True, slots=True)
class Voicemail:
    box_id: str
    data: str  # "<profile> <domain> <number>": the voicemail application's argument


@dataclass(frozen=True, slots=True)
class Fallback:
    """What runs when the ``socket`` action returns (esl-apps down, or it dropped the call)."""

    group: str | None  # the ring group whose members ring (None: no group)
    bridge: str  # bridge data; "" when there is no dialable member
    voicemail: Voicemail | None
    description: str


@dataclass(frozen=True, slots=True)
class DidEntry:
    number: str
    name: str
    flow: str
    recording_policy: str
    expression: str
    extension_name: str
    fallback: Fallback


@dataclass(frozen=True, slots=True)
class GroupEntry:
    id: str
    name: str
    strategy: str
    number: str
    expression: str
    extension_name: str
    fallback: Fallback


@dataclass(frozen=True, slots=True)
class AgentEntry:
    id: str
    name: str
    number: str
    expression: str
    extension_name: str
    bridge: str  # "" when the agent has no endpoint
    voicemail: Voicemail | None


@dataclass(frozen=True, slots=True)
class FeatureEntry:
    feature: str
    code: str
    takes_argument: bool
    expression: str
    extension_name: str

    @property
    def sample(self) -> str:
        """A number that must reach this extension (with a reason code for pause)."""
        return self.code + ("1" if self.takes_argument else "")


@dataclass(frozen=True, slots=True)
class WrapupEntry:
    number: str
    expression: str
    extension_name: str
    transfer_target: str  # what the agent leg's transfer_after_bridge must say


@dataclass(frozen=True, slots=True)
class DialplanModel:
    public_context: str
    internal_context: str
    socket: str
    domain: str
    dids: tuple[DidEntry, ...]
    groups: tuple[GroupEntry, ...]
    agents: tuple[AgentEntry, ...]
    features: tuple[FeatureEntry, ...]
    wrapup: WrapupEntry

    def expectations(self) -> Iterator[tuple[str, str, str]]:
        """(context, dialled number, extension that must answer it) for every configured number."""
        for did in self.dids:
            yield self.public_context, did.number, did.extension_name
            if did.number.startswith("+"):
                yield self.public_context, did.number[1:], did.extension_name
        for group in self.groups:
            yield self.internal_context, group.number, group.extension_name
        for agent in self.agents:
            yield self.internal_context, agent.number, agent.extension_name
        for feature in self.features:
            yield self.internal_context, feature.code, feature.extension_name
            if feature.takes_argument:
                yield self.internal_context, feature.sample, feature.extension_name
        yield self.internal_context, self.wrapup.number, self.wrapup.extension_name


# ------------------------------------------------------------------------------------ fallback


def _leg(endpoint: str, variables: list[str]) -> str:
    """Per-leg ``[k=v]`` variables; an endpoint that already starts with ``[...]`` or ``{...}``
    has ours merged in (both mean the same for one leg, trace 04a)."""
    if not variables:
        return endpoint
    joined = ",".join(variables)
    if endpoint[:1] in "[{":
        close = "]" if endpoint[0] == "[" else "}"
        end = endpoint.find(close)
        if end > 0:
            inner = endpoint[1:end]
            return f"[{joined},{inner}]{endpoint[end + 1:]}" if inner else f"[{joined}]{endpoint[end + 1:]}"
    return f"[{joined}]{endpoint}"


def group_bridge(pbx: PbxConfig, group_id: str) -> str:
    """Every member's every endpoint at once, each with its own timeout and delay (the group's
    strategy needs esl-apps' state; without it, ringing everyone is the safe choice)."""
    group = pbx.ring_groups[group_id]
    total = group.total_timeout
    legs: list[str] = []
    seen: set[str] = set()
    for member in pbx.members_of(group_id):
        agent = pbx.agents_by_id.get(member.agent)
        if agent is None:
            continue
        timeout = group.member_timeout(member)
        if total is not None:
            if member.delay >= total:
                continue
            timeout = min(timeout, total - member.delay)
        variables = [f"leg_timeout={timeout}"]
        if member.delay:
            variables.append(f"leg_delay_start={member.delay}")
        for endpoint in pbx.dial_strings(agent):
            if endpoint in seen:
                continue
            seen.add(endpoint)
            legs.append(_leg(endpoint, variables))
    if not legs:
        return ""
    # Forked legs must not send their early media (a mobile's network announcement) to the caller.
    return "{ignore_early_media=true}" + ",".join(legs)


def _voicemail(pbx: PbxConfig, box_id: str | None) -> Voicemail | None:
    if box_id is None or box_id not in pbx.voicemail.boxes:
        return None
    box = pbx.voicemail.boxes[box_id]
    return Voicemail(box_id, f"{pbx.voicemail.profile} {pbx.voicemail_domain} {box.number}")


def group_voicemail(pbx: PbxConfig, group_id: str) -> Voicemail | None:
    """The group's ``voicemail`` box, else the first overflow rule that leaves a voicemail."""
    group = pbx.ring_groups[group_id]
    if group.voicemail:
        return _voicemail(pbx, group.voicemail)
    for rule in group.overflow:
        if rule.to.voicemail:
            return _voicemail(pbx, rule.to.voicemail)
    return None


def group_fallback(pbx: PbxConfig, group_id: str) -> Fallback:
    vm = group_voicemail(pbx, group_id)
    what = f"ring group {group_id} at once" + (f", then voicemail box {vm.box_id}" if vm else "")
    return Fallback(group_id, group_bridge(pbx, group_id), vm, what)


class _FlowWalker:
    """Finds the group (or voicemail box) a flow's static fallback uses; results are cached per
    flow because many DIDs share a flow."""

    def __init__(self, config: Config) -> None:
        self.config = config
        pbx = config.pbx
        self.group_by_extension = {
            g.extension: gid for gid, g in sorted(pbx.ring_groups.items()) if g.extension
        }
        self.cache: dict[str, tuple[str | None, str | None]] = {}

    def resolve(self, flow_name: str) -> tuple[str | None, str | None]:
        if flow_name not in self.cache:
            flow = self.config.flows.get(flow_name)
            box: str | None = None
            found: str | None = None
            if flow is not None:
                starts = [flow.error_exit, flow.start] if flow.error_exit else [flow.start]
                for start in starts:
                    found, first_box = self._search(flow_name, start)
                    box = box or first_box
                    if found:
                        break
            self.cache[flow_name] = (found, box)
        return self.cache[flow_name]

    def _search(self, flow_name: str, start: str) -> tuple[str | None, str | None]:
        pbx, flows = self.config.pbx, self.config.flows
        queue: deque[tuple[str, str]] = deque([(flow_name, start)])
        seen: set[tuple[str, str]] = set()
        box: str | None = None
        while queue:
            key = queue.popleft()
            if key in seen or key[0] not in flows or key[1] not in flows[key[0]].nodes:
                continue
            seen.add(key)
            flow = flows[key[0]]
            node = flow.nodes[key[1]]
            if isinstance(node, RingGroupNode) and node.group in pbx.ring_groups:
                return node.group, box
            if isinstance(node, QueueNode) and node.queue in pbx.queues:
                return pbx.queues[node.queue].group, box
            if isinstance(node, TransferNode) and node.context == pbx.dialplan.internal_context:
                group = self.group_by_extension.get(node.extension)
                if group:
                    return group, box
            if isinstance(node, VoicemailNode) and box is None:
                box = node.box
            if isinstance(node, GotoNode) and node.flow in flows:
                queue.append((node.flow, node.node or flows[node.flow].start))
            queue.extend((key[0], target) for target in node.targets().values())
        return None, box


def flow_fallback(walker: _FlowWalker, flow_name: str) -> Fallback:
    pbx = walker.config.pbx
    group, box = walker.resolve(flow_name)
    if group is not None:
        return group_fallback(pbx, group)
    vm = _voicemail(pbx, box)
    if vm is not None:
        return Fallback(None, "", vm, f"voicemail box {vm.box_id} (flow {flow_name} rings no group)")
    return Fallback(None, "", None, f"hang up (flow {flow_name} rings no group and leaves no voicemail)")


# --------------------------------------------------------------------------------------- entries


def _agent_voicemail(pbx: PbxConfig, agent: Agent) -> Voicemail | None:
    """A box with the agent's id, else a box numbered like the agent's extension."""
    if agent.id in pbx.voicemail.boxes:
        return _voicemail(pbx, agent.id)
    for box_id, box in sorted(pbx.voicemail.boxes.items()):
        if agent.extension and box.number == agent.extension:
            return _voicemail(pbx, box_id)
    return None


def agent_bridge(pbx: PbxConfig, agent: Agent) -> str:
    """All of an agent's endpoints at once (desk phone and mobile ring together)."""
    endpoints = list(dict.fromkeys(pbx.dial_strings(agent)))
    if len(endpoints) > 1:
        return "{ignore_early_media=true}" + ",".join(endpoints)
    return endpoints[0] if endpoints else ""


def build_model(config: Config) -> DialplanModel:
    """Everything the templates print, from a validated configuration."""
    pbx = config.pbx
    settings = pbx.dialplan
    walker = _FlowWalker(config)
    dids = tuple(
        DidEntry(
            number=did.number,
            name=did.name,
            flow=did.flow,
            recording_policy=pbx.recording_policy_for(did),
            expression=did_expression(did.number),
            extension_name=f"esl_apps_did_{did.number}",
            fallback=flow_fallback(walker, did.flow),
        )
        for did in pbx.dids
    )
    groups = tuple(
        GroupEntry(
            id=gid,
            name=group.name,
            strategy=group.strategy,
            number=group.extension,
            expression=exact_expression(group.extension),
            extension_name=f"esl_apps_group_{gid}",
            fallback=group_fallback(pbx, gid),
        )
        for gid, group in sorted(pbx.ring_groups.items())
        if group.extension
    )
    agents = tuple(
        AgentEntry(
            id=agent.id,
            name=agent.name,
            number=agent.extension,
            expression=exact_expression(agent.extension),
            extension_name=f"esl_apps_agent_{agent.id}",
            bridge=agent_bridge(pbx, agent),
            voicemail=_agent_voicemail(pbx, agent),
        )
        for agent in pbx.agents
        if agent.extension
    )
    codes = settings.feature_codes
    features = tuple(
        FeatureEntry(
            feature=name,
            code=getattr(codes, name),
            takes_argument=name in FEATURES_WITH_ARGUMENT,
            expression=(
                f"^{pcre_escape(getattr(codes, name))}(\\d*)$"
                if name in FEATURES_WITH_ARGUMENT
                else exact_expression(getattr(codes, name))
            ),
            extension_name=f"esl_apps_feature_{name}",
        )
        # Exact codes first, so a longer exact code is not swallowed by pause's reason digits.
        for name in sorted(FEATURE_ORDER, key=lambda n: (n in FEATURES_WITH_ARGUMENT, FEATURE_ORDER.index(n)))
    )
    wrapup = WrapupEntry(
        number=settings.wrapup_extension,
        expression=exact_expression(settings.wrapup_extension),
        extension_name="esl_apps_wrapup",
        transfer_target=contract.wrapup_transfer_target(settings),
    )
    return DialplanModel(
        public_context=settings.context,
        internal_context=settings.internal_context,
        socket=contract.socket_data(settings),
        domain=pbx.domain,
        dids=dids,
        groups=groups,
        agents=agents,
        features=features,
        wrapup=wrapup,
    )
