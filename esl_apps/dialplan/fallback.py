"""The static fallback: what FreeSWITCH runs when the ``socket`` action returns.

That happens at once when esl-apps is not listening (connection refused, trace 06a), and when
esl-apps drops a call without hanging up (06b). The fallback rings a group's members at once,
then leaves a voicemail, so an application outage never leaves a caller in silence.

Which group: the one the flow's ``error_exit`` leads to (where the
app itself sends a call when a node fails), else the first ring group reachable from ``start``
(breadth first, children in the order written, through ``goto``); a ``queue`` node counts as its
group, a ``transfer`` to a group's extension as that group. No group: the first voicemail box
reachable; nothing at all: hang up with NORMAL_TEMPORARY_FAILURE (the caller's network plays its
"cannot be completed" announcement, never silence).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from esl_apps.config import Config
from esl_apps.config.flows import GotoNode, QueueNode, RingGroupNode, TransferNode, VoicemailNode
from esl_apps.config.pbx import PbxConfig
from esl_apps.esl.dialstring import escape_value

__all__ = [
    "Fallback",
    "FlowWalker",
    "Voicemail",
    "flow_fallback",
    "group_bridge",
    "group_fallback",
    "group_voicemail",
    "voicemail_target",
]


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
            return f"[{joined},{inner}]{endpoint[end + 1 :]}" if inner else f"[{joined}]{endpoint[end + 1 :]}"
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
        if group.answer_confirm:
            # As esl-apps rings it: the agent must press 1, so a mobile's voicemail cannot answer.
            variables += ["group_confirm_key=1", f"group_confirm_file={escape_value(group.confirm_prompt)}"]
        for endpoint in pbx.dial_strings(agent):
            if endpoint in seen:
                continue
            seen.add(endpoint)
            legs.append(_leg(endpoint, variables))
    if not legs:
        return ""
    # Forked legs must not send their early media (a mobile's network announcement) to the caller.
    return "{ignore_early_media=true}" + ",".join(legs)


def voicemail_target(pbx: PbxConfig, box_id: str | None) -> Voicemail | None:
    if box_id is None or box_id not in pbx.voicemail.boxes:
        return None
    box = pbx.voicemail.boxes[box_id]
    return Voicemail(box_id, f"{pbx.voicemail.profile} {pbx.voicemail_domain} {box.number}")


def group_voicemail(pbx: PbxConfig, group_id: str) -> Voicemail | None:
    """The group's ``voicemail`` box, else the first overflow rule that leaves a voicemail."""
    group = pbx.ring_groups[group_id]
    if group.voicemail:
        return voicemail_target(pbx, group.voicemail)
    for rule in group.overflow:
        if rule.to.voicemail:
            return voicemail_target(pbx, rule.to.voicemail)
    return None


def group_fallback(pbx: PbxConfig, group_id: str) -> Fallback:
    vm = group_voicemail(pbx, group_id)
    what = f"ring group {group_id} at once" + (f", then voicemail box {vm.box_id}" if vm else "")
    return Fallback(group_id, group_bridge(pbx, group_id), vm, what)


class FlowWalker:
    """Finds the group (or voicemail box) a flow's static fallback uses; results are cached per
    flow because many DIDs share a flow."""

    def __init__(self, config: Config) -> None:
        self.config = config
        pbx = config.pbx
        self.group_by_extension = {
            g.extension: gid for gid, g in sorted(pbx.ring_groups.items()) if g.extension
        }
        self.cache: dict[str, tuple[str | None, str | None]] = {}
        self.group_cache: dict[str, Fallback] = {}

    def group(self, group_id: str) -> Fallback:
        """The fallback of one group (computed once: hundreds of DIDs can share a group)."""
        if group_id not in self.group_cache:
            self.group_cache[group_id] = group_fallback(self.config.pbx, group_id)
        return self.group_cache[group_id]

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


def flow_fallback(walker: FlowWalker, flow_name: str) -> Fallback:
    pbx = walker.config.pbx
    group, box = walker.resolve(flow_name)
    if group is not None:
        return walker.group(group)
    vm = voicemail_target(pbx, box)
    if vm is not None:
        return Fallback(None, "", vm, f"voicemail box {vm.box_id} (flow {flow_name} rings no group)")
    return Fallback(None, "", None, f"hang up (flow {flow_name} rings no group and leaves no voicemail)")
