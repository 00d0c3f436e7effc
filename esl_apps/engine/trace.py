"""What a call did in the IVR: one step per node visited, kept for the log and for Redis.

Two audiences read it: an operator grepping logs for a call UUID (one JSON line per step, as it
happens, so a stuck call still shows where it is) and a supervisor asking afterwards "which path
did this caller take" (one record per call in Redis, written once at the end so a call costs one
round trip for its whole trace). Sensitive digits never reach either: nodes hand the trace their
masked form only.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["CallTrace", "StepBuilder", "TraceStep", "log_event"]


def log_event(logger: logging.Logger, event: Mapping[str, Any], level: int = logging.INFO) -> None:
    """One structured log line: the message is the JSON, ``record.structured`` the dict itself
    (so a JSON formatter can embed it without parsing)."""
    if logger.isEnabledFor(level):
        logger.log(
            level, json.dumps(event, default=str, separators=(",", ":")), extra={"structured": dict(event)}
        )


@dataclass(frozen=True, slots=True)
class TraceStep:
    flow: str
    node: str
    type: str
    outcome: str
    at: str
    prompts: tuple[str, ...] = ()
    digits: str | None = None
    next: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        # Built by hand: dataclasses.asdict deep-copies, and this runs for every node of every call.
        data: dict[str, Any] = {
            "flow": self.flow,
            "node": self.node,
            "type": self.type,
            "outcome": self.outcome,
            "at": self.at,
        }
        if self.prompts:
            data["prompts"] = list(self.prompts)
        if self.digits is not None:
            data["digits"] = self.digits
        if self.next is not None:
            data["next"] = self.next
        if self.detail:
            data["detail"] = {k: list(v) if isinstance(v, list) else v for k, v in self.detail.items()}
        return data


class StepBuilder:
    """Collects what one node did while it runs; the runner turns it into a :class:`TraceStep`."""

    __slots__ = ("detail", "digits", "prompts")

    def __init__(self) -> None:
        self.prompts: list[str] = []
        self.digits: str | None = None
        self.detail: dict[str, Any] = {}

    def add_digits(self, digits: str) -> None:
        self.digits = digits if self.digits is None else f"{self.digits},{digits}"


@dataclass(slots=True)
class CallTrace:
    """The whole call. Mutable while the call runs; :meth:`as_record` is what Redis stores."""

    call_uuid: str
    caller: str
    did: str
    flow: str
    started_at: datetime
    steps: list[TraceStep] = field(default_factory=list)
    ended_at: datetime | None = None
    # caller_hangup | hangup | transfer | voicemail | callback | bridged | flow_end | error
    end: str = "running"
    end_node: str | None = None
    error: str | None = None
    consent: Mapping[str, Any] | None = None
    mask_spans: list[Mapping[str, Any]] = field(default_factory=list)
    bridges: list[Mapping[str, Any]] = field(default_factory=list)
    recordings: list[str] = field(default_factory=list)

    @property
    def path(self) -> list[str]:
        """Node ids in the order visited (``flow:node`` once the call left its first flow)."""
        out = []
        for step in self.steps:
            out.append(step.node if step.flow == self.flow else f"{step.flow}:{step.node}")
        return out

    @property
    def prompts(self) -> list[str]:
        return [p for step in self.steps for p in step.prompts]

    def as_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "call_uuid": self.call_uuid,
            "caller": self.caller,
            "did": self.did,
            "flow": self.flow,
            "started_at": self.started_at.isoformat(),
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
            "end": self.end,
            "end_node": self.end_node,
            "path": self.path,
            "steps": [step.as_dict() for step in self.steps],
        }
        if self.error:
            record["error"] = self.error
        if self.consent is not None:
            record["consent"] = dict(self.consent)
        if self.mask_spans:
            record["mask_spans"] = [dict(s) for s in self.mask_spans]
        if self.bridges:
            record["bridges"] = [dict(b) for b in self.bridges]
        if self.recordings:
            record["recordings"] = list(self.recordings)
        return record
