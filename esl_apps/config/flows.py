"""IVR flow models: one ``ivr_flows/<name>.yaml`` file is one :class:`Flow`.

Flows follow the Kazoo/jambonz shape: small named nodes, each doing one thing, whose ``children``
map an *outcome* (``next``, ``ok``, ``failed``, ``open``...) to the id of the node that runs after
it. One pydantic model per node type, selected by the ``type`` key, so an admin's typo in a key is
reported against the node type that was meant instead of as a generic "does not match any of".

These models only check what can be checked inside one node (shapes, ranges, regexes compile,
keys do not collide). Whether a child, group, schedule, box or ``goto`` target exists is checked by
``esl_apps.config.validate`` with the file's line marks, so the admin gets ``file:line`` for it;
:meth:`FlowNode.targets` and :meth:`FlowNode.prompt_items` give that checker everything it needs.

Outcome lookup at run time: ``children[outcome]``, else ``children["next"]`` where the node type
allows ``next``; a node with no child for its outcome ends the flow (the call is hung up).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated, Any, ClassVar, Literal, get_args

from pydantic import BeforeValidator, Field, field_validator, model_validator

from esl_apps.config.flow_parts import (
    ConsentPolicy,
    NodeId,
    Prompt,
    PromptItem,
    Regex,
    SayPrompt,
    SaySpec,
    StoreMode,
    TtsPrompt,
    TtsSettings,
    VariableName,
    stringify,
    stringify_keys,
    stringify_values,
)
from esl_apps.config.types import ConfigModel, DtmfKey, Identifier

__all__ = [
    "NODE_TYPES",
    "BranchCallerNode",
    "BranchTimeNode",
    "BranchVarNode",
    "CallbackNode",
    "CallerRule",
    "CollectNode",
    "ConsentNode",
    "DirectDial",
    "Flow",
    "FlowNode",
    "GotoNode",
    "HangupNode",
    "MenuNode",
    "Node",
    "PlayNode",
    "Prompt",
    "PromptItem",
    "QueueNode",
    "RingGroupNode",
    "SayNode",
    "SayPrompt",
    "SaySpec",
    "SetNode",
    "TransferNode",
    "TtsPrompt",
    "TtsSettings",
    "VoicemailNode",
]

_CAUSE = re.compile(r"[A-Z][A-Z_]{2,40}")


# ----------------------------------------------------------------------------------------- nodes


class FlowNode(ConfigModel):
    """Fields every node has. ``OUTCOMES`` lists the keys allowed under ``children``."""

    OUTCOMES: ClassVar[frozenset[str]] = frozenset()

    description: str = ""
    children: Annotated[dict[str, NodeId], BeforeValidator(stringify_keys)] = Field(default_factory=dict)

    @field_validator("children")
    @classmethod
    def _known_outcomes(cls, children: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(children) - cls.OUTCOMES)
        if unknown:
            allowed = ", ".join(sorted(cls.OUTCOMES)) or "none (this node type ends the flow)"
            raise ValueError(f"unknown outcome(s) {', '.join(unknown)}; allowed: {allowed}")
        return children

    def child(self, outcome: str) -> str | None:
        """The node to run after ``outcome`` (``next`` is the fallback for any outcome)."""
        return self.children.get(outcome) or self.children.get("next")

    def targets(self) -> dict[str, str]:
        """Every edge out of this node: a label (``children.ok``, ``options.1``...) -> node id."""
        return {f"children.{k}": v for k, v in self.children.items()}

    def prompt_items(self) -> Iterator[tuple[str, PromptItem]]:
        """Every prompt item this node can play, with the key it came from (validate-time checks)."""
        for name in type(self).model_fields:
            value = getattr(self, name)
            if name.endswith("prompt") and value:
                for item in value:
                    yield name, item


class PlayNode(FlowNode):
    OUTCOMES = frozenset({"next"})
    type: Literal["play"]
    prompt: Prompt


class SayNode(FlowNode):
    OUTCOMES = frozenset({"next"})
    type: Literal["say"]
    say: SaySpec


class DirectDial(ConfigModel):
    """Let a caller key an extension at the menu instead of an option: ``transfer`` into ``context``."""

    min_digits: int = Field(default=3, ge=2, le=15)
    max_digits: int = Field(default=4, ge=2, le=15)
    pattern: Regex = r"^\d+$"
    context: Identifier = "default"

    @model_validator(mode="after")
    def _ordered(self) -> DirectDial:
        if self.min_digits > self.max_digits:
            raise ValueError("min_digits must not exceed max_digits")
        return self


class MenuNode(FlowNode):
    """Greeting + options. ``max_tries`` counts timeouts and invalid keys together; then the
    ``max_tries`` child runs (so a caller who keys nothing or garbage always leaves the menu)."""

    OUTCOMES = frozenset({"max_tries"})
    type: Literal["menu"]
    prompt: Prompt
    options: Annotated[dict[DtmfKey, NodeId], BeforeValidator(stringify_keys)] = Field(min_length=1)
    timeout_s: float = Field(default=5.0, gt=0, le=60)
    digit_timeout_s: float = Field(default=2.0, gt=0, le=20)
    max_tries: int = Field(default=3, ge=1, le=10)
    invalid_prompt: Prompt | None = None
    timeout_prompt: Prompt | None = None
    repeat_key: DtmfKey | None = None
    back_key: DtmfKey | None = None
    direct_dial: DirectDial | None = None

    @field_validator("repeat_key", "back_key", mode="before")
    @classmethod
    def _key_text(cls, value: Any) -> Any:
        return stringify(value)

    @model_validator(mode="after")
    def _keys_distinct(self) -> MenuNode:
        for name in ("repeat_key", "back_key"):
            key = getattr(self, name)
            if key is not None and key in self.options:
                raise ValueError(f"{name} {key!r} is also a menu option")
        if self.repeat_key is not None and self.repeat_key == self.back_key:
            raise ValueError("repeat_key and back_key must differ")
        return self

    def targets(self) -> dict[str, str]:
        edges = super().targets()
        edges.update({f"options.{k}": v for k, v in self.options.items()})
        return edges


class CollectNode(FlowNode):
    """Digits into ``variable``. ``sensitive`` digits (card numbers) mask the recording while they
    are keyed, are never logged, and only ``store`` of them is kept (default: nothing)."""

    OUTCOMES = frozenset({"ok", "failed", "next"})
    type: Literal["collect"]
    prompt: Prompt
    variable: VariableName
    min_digits: int = Field(default=1, ge=1, le=64)
    max_digits: int = Field(default=1, ge=1, le=64)
    regex: Regex | None = None
    tries: int = Field(default=3, ge=1, le=10)
    timeout_s: float = Field(default=5.0, gt=0, le=60)
    digit_timeout_s: float | None = Field(default=None, gt=0, le=30)
    terminators: str = Field(default="#", pattern=r"^[0-9*#]{0,4}$")
    invalid_prompt: Prompt | None = None
    sensitive: bool = False
    store: StoreMode | None = None  # None: "full" unless sensitive, then "none"

    @model_validator(mode="after")
    def _consistent(self) -> CollectNode:
        if self.min_digits > self.max_digits:
            raise ValueError("min_digits must not exceed max_digits")
        if self.sensitive and self.store == "full":
            raise ValueError("a sensitive collect cannot store the full digits (use store: last4 or none)")
        return self

    @property
    def store_mode(self) -> StoreMode:
        if self.store is not None:
            return self.store
        return "none" if self.sensitive else "full"


class ConsentNode(FlowNode):
    """Announce recording and take the caller's decision. ``inherit`` uses the DID's
    ``recording_policy`` (else the pbx default); unset prompt/digits come from pbx ``recording``."""

    OUTCOMES = frozenset({"recorded", "not_recorded", "next"})
    type: Literal["consent"]
    policy: ConsentPolicy = "inherit"
    prompt: Prompt | None = None
    accept_digit: DtmfKey | None = None
    decline_digit: DtmfKey | None = None
    timeout_s: float = Field(default=5.0, gt=0, le=30)

    @field_validator("accept_digit", "decline_digit", mode="before")
    @classmethod
    def _key_text(cls, value: Any) -> Any:
        return stringify(value)

    @model_validator(mode="after")
    def _digits_differ(self) -> ConsentNode:
        if self.accept_digit is not None and self.accept_digit == self.decline_digit:
            raise ValueError("accept_digit and decline_digit must differ")
        return self


class SetNode(FlowNode):
    OUTCOMES = frozenset({"next"})
    type: Literal["set"]
    variables: Annotated[dict[VariableName, str], BeforeValidator(stringify_values)] = Field(min_length=1)


class BranchTimeNode(FlowNode):
    """``holiday`` falls back to ``closed`` when not given."""

    OUTCOMES = frozenset({"open", "closed", "holiday"})
    type: Literal["branch_time"]
    schedule: Identifier


class CallerRule(ConfigModel):
    pattern: Regex  # searched in the caller number like a FreeSWITCH condition: anchor with ^...$
    to: NodeId


class BranchCallerNode(FlowNode):
    type: Literal["branch_caller"]
    rules: tuple[CallerRule, ...] = Field(min_length=1)
    default: NodeId | None = None

    def targets(self) -> dict[str, str]:
        edges = {f"rules.{i}": rule.to for i, rule in enumerate(self.rules)}
        if self.default:
            edges["default"] = self.default
        return edges


class BranchVarNode(FlowNode):
    type: Literal["branch_var"]
    variable: VariableName
    cases: Annotated[dict[str, NodeId], BeforeValidator(stringify_keys)] = Field(min_length=1)
    default: NodeId | None = None

    def targets(self) -> dict[str, str]:
        edges = {f"cases.{k}": v for k, v in self.cases.items()}
        if self.default:
            edges["default"] = self.default
        return edges


_BRIDGE_OUTCOMES = frozenset({"answered", "no_answer", "busy", "failed", "next"})


class RingGroupNode(FlowNode):
    """Ring a group; ``answered`` runs after the agent ends the call with the caller still on."""

    OUTCOMES = _BRIDGE_OUTCOMES
    type: Literal["ring_group"]
    group: Identifier


class QueueNode(FlowNode):
    OUTCOMES = _BRIDGE_OUTCOMES
    type: Literal["queue"]
    queue: Identifier


class TransferNode(FlowNode):
    type: Literal["transfer"]
    extension: Annotated[str, BeforeValidator(stringify), Field(pattern=r"^[0-9A-Za-z*#+_.-]{1,32}$")]
    context: Identifier = "default"


class VoicemailNode(FlowNode):
    type: Literal["voicemail"]
    box: Identifier


class CallbackNode(FlowNode):
    """Offer a callback on the caller's number: read it out, ``confirm_digit`` stores the request."""

    OUTCOMES = frozenset({"requested", "declined", "next"})
    type: Literal["callback"]
    group: Identifier | None = None
    prompt: Prompt | None = None
    confirm_prompt: Prompt | None = None
    confirm_digit: DtmfKey = "1"
    timeout_s: float = Field(default=5.0, gt=0, le=30)

    @field_validator("confirm_digit", mode="before")
    @classmethod
    def _key_text(cls, value: Any) -> Any:
        return stringify(value)


class HangupNode(FlowNode):
    type: Literal["hangup"]
    cause: str = "NORMAL_CLEARING"

    @field_validator("cause")
    @classmethod
    def _cause(cls, value: str) -> str:
        if not _CAUSE.fullmatch(value):
            raise ValueError(f"expected a hangup cause such as NORMAL_CLEARING, got {value!r}")
        return value


class GotoNode(FlowNode):
    type: Literal["goto"]
    flow: Identifier
    node: NodeId | None = None  # the other flow's start when not given


Node = Annotated[
    PlayNode
    | SayNode
    | MenuNode
    | CollectNode
    | ConsentNode
    | SetNode
    | BranchTimeNode
    | BranchCallerNode
    | BranchVarNode
    | RingGroupNode
    | QueueNode
    | TransferNode
    | VoicemailNode
    | CallbackNode
    | HangupNode
    | GotoNode,
    Field(discriminator="type"),
]

NODE_TYPES: dict[str, type[FlowNode]] = {
    get_args(cls.model_fields["type"].annotation)[0]: cls for cls in get_args(get_args(Node)[0])
}
"""``type`` value -> node model (the members of the ``Node`` union)."""


class Flow(ConfigModel):
    """One IVR. ``error_exit`` is where a node that fails (an exception) sends the call."""

    flow: Identifier
    description: str = ""
    start: NodeId
    error_exit: NodeId | None = None
    language: str = "en"
    tts: TtsSettings = Field(default_factory=TtsSettings)
    nodes: dict[NodeId, Node] = Field(min_length=1)

    def edges(self) -> Iterator[tuple[str, str, str]]:
        """(from node id, edge label, to node id) for every edge inside this flow."""
        for node_id, node in self.nodes.items():
            for label, target in node.targets().items():
                yield node_id, label, target
