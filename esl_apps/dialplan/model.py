"""The configuration turned into what the dialplan templates print: one value per extension.

Every decision about *what* the dialplan does is made here, in Python, where it is tested; the
Jinja2 templates only decide *how* it is written, so an admin's modified template cannot get the
routing wrong by accident. Iteration follows the YAML's order for DIDs and agents (lists) and
sorted ids for ring groups, so the same YAML always gives the same files.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from esl_apps.config import Config
from esl_apps.config.pbx import Agent, PbxConfig
from esl_apps.dialplan import contract
from esl_apps.dialplan.fallback import (
    Fallback,
    FlowWalker,
    Voicemail,
    flow_fallback,
    voicemail_target,
)

__all__ = [
    "AgentEntry",
    "DialplanModel",
    "DidEntry",
    "FeatureEntry",
    "GroupEntry",
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
    sample: str | None = None  # code + reason digit that must reach it ("*231"); None: no argument


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
            if feature.sample:
                yield self.internal_context, feature.sample, feature.extension_name
        yield self.internal_context, self.wrapup.number, self.wrapup.extension_name


# --------------------------------------------------------------------------------------- entries


def _agent_voicemail(pbx: PbxConfig, agent: Agent, box_by_number: dict[str, str]) -> Voicemail | None:
    """A box with the agent's id, else a box numbered like the agent's extension."""
    if agent.id in pbx.voicemail.boxes:
        return voicemail_target(pbx, agent.id)
    if agent.extension and agent.extension in box_by_number:
        return voicemail_target(pbx, box_by_number[agent.extension])
    return None


def agent_bridge(pbx: PbxConfig, agent: Agent) -> str:
    """All of an agent's endpoints at once (desk phone and mobile ring together)."""
    endpoints = list(dict.fromkeys(pbx.dial_strings(agent)))
    if len(endpoints) > 1:
        return "{ignore_early_media=true}" + ",".join(endpoints)
    return endpoints[0] if endpoints else ""


def _features(codes: dict[str, str]) -> tuple[FeatureEntry, ...]:
    # Exact codes first, so a longer exact code (login *231) is not swallowed by pause's reason
    # digits (*23<reason>); `esl-apps validate` warns about such prefixes.
    order = sorted(FEATURE_ORDER, key=lambda n: (n in FEATURES_WITH_ARGUMENT, FEATURE_ORDER.index(n)))
    entries = []
    for name in order:
        code = codes[name]
        if name not in FEATURES_WITH_ARGUMENT:
            entries.append(
                FeatureEntry(name, code, False, exact_expression(code), f"esl_apps_feature_{name}")
            )
            continue
        taken = set(codes.values())
        sample = next((code + d for d in "1234567890" if code + d not in taken), None)
        expression = f"^{pcre_escape(code)}(\\d*)$"
        entries.append(FeatureEntry(name, code, True, expression, f"esl_apps_feature_{name}", sample))
    return tuple(entries)


def build_model(config: Config) -> DialplanModel:
    """Everything the templates print, from a validated configuration."""
    pbx = config.pbx
    settings = pbx.dialplan
    walker = FlowWalker(config)
    box_by_number: dict[str, str] = {}
    for box_id, box in sorted(pbx.voicemail.boxes.items()):
        box_by_number.setdefault(box.number, box_id)
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
            fallback=walker.group(gid),
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
            voicemail=_agent_voicemail(pbx, agent, box_by_number),
        )
        for agent in pbx.agents
        if agent.extension
    )
    features = _features(settings.feature_codes.model_dump())
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
