"""conf/pbx.yaml: the PBX an admin describes (agents, ring groups, queues, DIDs ...).

Field-level rules live here (types, ranges, one-of choices). Rules that need two parts of the
configuration at once (a member naming an agent that does not exist) live in
``esl_apps.config.crosscheck`` so that every such mistake is reported with its own file:line,
instead of the first one aborting model construction.
"""

from __future__ import annotations

import re
from functools import cached_property
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from esl_apps.config.schedules import Holiday, Schedule
from esl_apps.config.settings import (
    CallbackSettings,
    DialplanSettings,
    EslSettings,
    FeatureCodes,
    RecordingPolicy,
    RecordingPrompts,
    RecordingSettings,
    RedisSettings,
    SecretUnavailable,
    SentinelSettings,
    VoicemailBox,
    VoicemailSettings,
)
from esl_apps.config.types import ConfigModel, DigitString, Hostname, Identifier, PhoneNumber, parse_host_port

__all__ = [
    "Agent",
    "CallbackSettings",
    "DialplanSettings",
    "Did",
    "EslSettings",
    "FeatureCodes",
    "Holiday",
    "Member",
    "OverflowCondition",
    "OverflowRule",
    "OverflowTarget",
    "PbxConfig",
    "QueueConfig",
    "RecordingPolicy",
    "RecordingPrompts",
    "RecordingSettings",
    "RedisSettings",
    "RingGroup",
    "Schedule",
    "SecretUnavailable",
    "SentinelSettings",
    "Strategy",
    "VoicemailBox",
    "VoicemailSettings",
]

Strategy = Literal[
    "simultaneous", "sequential", "round_robin", "longest_idle", "fewest_calls", "random", "weighted_random"
]
OverflowCondition = Literal["no_answer", "all_busy", "queue_full", "max_wait", "closed"]


_NOT_ONE_LEG = re.compile(r"[,|\s]")
DEFAULT_CONFIRM_PROMPT = "ivr/ivr-accept_reject_voicemail.wav"  # in FreeSWITCH's stock sound packages


class Agent(ConfigModel):
    id: Identifier
    name: str
    extension: DigitString | None = None
    endpoints: tuple[str, ...] = ()
    groups: tuple[Identifier, ...] = ()
    skills: tuple[Identifier, ...] = ()

    @field_validator("endpoints")
    @classmethod
    def _dialable(cls, endpoints: tuple[str, ...]) -> tuple[str, ...]:
        for endpoint in endpoints:
            # , and | separate legs in a FreeSWITCH dial string; one endpoint must be one leg.
            if not endpoint or _NOT_ONE_LEG.search(endpoint):
                raise ValueError(
                    f"endpoint {endpoint!r} is not one dial string (no spaces, ',' or '|'; "
                    "e.g. user/1001@${domain} or sofia/gateway/mobile/+447700900001)"
                )
        return endpoints


class Member(ConfigModel):
    agent: Identifier
    timeout: int | None = Field(default=None, ge=1, le=600)  # None: the group's ring_timeout
    delay: int = Field(default=0, ge=0, le=600)
    weight: int = Field(default=1, ge=0, le=1000)

    @model_validator(mode="before")
    @classmethod
    def _bare_agent(cls, data: Any) -> Any:
        return {"agent": data} if isinstance(data, str) else data


class OverflowTarget(ConfigModel):
    group: Identifier | None = None
    voicemail: Identifier | None = None
    callback: bool | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> OverflowTarget:
        chosen = [k for k in ("group", "voicemail", "callback") if getattr(self, k) not in (None, False)]
        if len(chosen) != 1:
            raise ValueError(
                "expected exactly one target: {group: <ring group id>}, {voicemail: <box id>} "
                "or {callback: true}"
            )
        return self

    @property
    def kind(self) -> Literal["group", "voicemail", "callback"]:
        if self.group is not None:
            return "group"
        return "voicemail" if self.voicemail is not None else "callback"


class OverflowRule(ConfigModel):
    when: tuple[OverflowCondition, ...] = Field(min_length=1)
    to: OverflowTarget

    @field_validator("when", mode="before")
    @classmethod
    def _single(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class RingGroup(ConfigModel):
    name: str
    extension: DigitString | None = None
    strategy: Strategy = "simultaneous"
    members: tuple[Member, ...] = ()
    ring_timeout: int = Field(default=20, ge=1, le=600)
    total_timeout: int | None = Field(default=60, ge=1, le=86400)
    wrapup_seconds: int = Field(default=10, ge=0, le=3600)
    answer_confirm: bool = False
    # what FreeSWITCH plays to an agent who picks up, until they press 1 (a file under the switch's
    # sounds, a tone_stream://...); it travels in the dial string (commas are escaped there)
    confirm_prompt: str = DEFAULT_CONFIRM_PROMPT
    auto_pause_after_no_answers: int | None = Field(default=None, ge=1)
    fewest_calls_reset: Literal["daily", "weekly", "never"] = "daily"
    queue: Identifier | None = None
    overflow: tuple[OverflowRule, ...] = ()
    voicemail: Identifier | None = None
    schedule: Identifier | None = None

    @field_validator("confirm_prompt")
    @classmethod
    def _dialable_prompt(cls, value: str) -> str:
        from esl_apps.esl.dialstring import escape_value  # pure: the dial string rules, no I/O

        if not value or any(c.isspace() for c in value):
            raise ValueError("must be one file name or stream, without blanks")
        escape_value(value)  # raises on what FreeSWITCH's dial string parser would misread
        return value

    def member_timeout(self, member: Member) -> int:
        return member.timeout if member.timeout is not None else self.ring_timeout

    def overflow_for(self, condition: OverflowCondition) -> OverflowTarget | None:
        """The first rule's target for this condition, else the group's voicemail, else None."""
        for rule in self.overflow:
            if condition in rule.when:
                return rule.to
        return OverflowTarget(voicemail=self.voicemail) if self.voicemail else None


class QueueConfig(ConfigModel):
    group: Identifier
    moh: str = "local_stream://moh"
    announce_position_every: int = Field(default=30, ge=0)  # 0: never
    max_wait: int = Field(default=300, ge=1)
    max_length: int = Field(default=20, ge=1)
    leave_keys: dict[str, Literal["voicemail", "callback"]] = Field(default_factory=dict)
    join_when_no_agents: bool = False

    @field_validator("leave_keys")
    @classmethod
    def _keys(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if len(key) != 1 or key not in "0123456789*#":
                raise ValueError(f"leave_keys: expected one DTMF key (0-9, * or #) per entry, got {key!r}")
        return value


class Did(ConfigModel):
    number: PhoneNumber
    name: str = ""
    flow: Identifier
    recording_policy: RecordingPolicy | None = None  # None: recording.default_policy
    schedule: Identifier | None = None


class PbxConfig(ConfigModel):
    domain: Hostname
    esl: EslSettings
    redis: RedisSettings = RedisSettings()
    dialplan: DialplanSettings = DialplanSettings()
    schedules: dict[Identifier, Schedule] = Field(default_factory=dict)
    recording: RecordingSettings = RecordingSettings()
    agents: tuple[Agent, ...] = ()
    ring_groups: dict[Identifier, RingGroup] = Field(default_factory=dict)
    queues: dict[Identifier, QueueConfig] = Field(default_factory=dict)
    voicemail: VoicemailSettings = VoicemailSettings()
    dids: tuple[Did, ...] = ()
    callbacks: CallbackSettings | None = None

    @model_validator(mode="before")
    @classmethod
    def _socket_defaults(cls, data: Any) -> Any:
        # The dialplan's socket target defaults to where the app listens, so a one-machine setup
        # states the port once. They differ when esl-apps listens on 0.0.0.0 behind an address.
        if not isinstance(data, dict):
            return data
        esl, dialplan = data.get("esl"), data.get("dialplan", {})
        if not isinstance(esl, dict) or not isinstance(dialplan, dict):
            return data
        listen = esl.get("app_listen")
        if not isinstance(listen, str):
            return data
        try:
            host, port = parse_host_port(listen)
        except ValueError:
            return data
        if host in ("0.0.0.0", "::"):
            host = "127.0.0.1"
        filled = {"app_host": host, "app_port": port} | dialplan
        return data | {"dialplan": filled}

    @cached_property
    def agents_by_id(self) -> dict[str, Agent]:
        return {agent.id: agent for agent in self.agents}

    @cached_property
    def _members(self) -> dict[str, tuple[Member, ...]]:
        result: dict[str, list[Member]] = {
            gid: list(group.members) for gid, group in self.ring_groups.items()
        }
        listed = {gid: {m.agent for m in group.members} for gid, group in self.ring_groups.items()}
        for agent in self.agents:
            for gid in agent.groups:
                if gid in result and agent.id not in listed[gid]:
                    result[gid].append(Member(agent=agent.id))
                    listed[gid].add(agent.id)
        return {gid: tuple(members) for gid, members in result.items()}

    def members_of(self, group_id: str) -> tuple[Member, ...]:
        """The group's members in ring order: its ``members`` list, then agents naming it in ``groups``."""
        return self._members[group_id]

    def dial_strings(self, agent: Agent) -> tuple[str, ...]:
        """FreeSWITCH dial strings for an agent: ``${domain}`` filled in, ``sip:`` URIs via sofia."""
        result = []
        for endpoint in agent.endpoints:
            endpoint = endpoint.replace("${domain}", self.domain)
            if endpoint.startswith(("sip:", "sips:")):
                endpoint = f"sofia/{self.dialplan.sip_profile}/{endpoint}"
            result.append(endpoint)
        return tuple(result)

    def schedule_for_did(self, did: Did) -> Schedule | None:
        return self.schedules.get(did.schedule) if did.schedule else None

    def recording_policy_for(self, did: Did) -> RecordingPolicy:
        return did.recording_policy or self.recording.default_policy

    @property
    def voicemail_domain(self) -> str:
        return self.voicemail.domain or self.domain
