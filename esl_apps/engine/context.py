"""Per-call state shared by the node functions, and what a node function returns."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from esl_apps.call import Call
from esl_apps.engine.trace import CallTrace, StepBuilder

if TYPE_CHECKING:
    from esl_apps.config import Config
    from esl_apps.config.flows import Flow
    from esl_apps.config.pbx import Did
    from esl_apps.engine.ringer import GroupRinger
    from esl_apps.features.consent import ConsentService
    from esl_apps.features.pci import PciMasker
    from esl_apps.features.recording_audit import RecordSink

__all__ = ["FlowContext", "FlowError", "NodeResult", "expand"]

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class FlowError(Exception):
    """A flow could not go on (unknown node, missing group...): the runner takes the error exit."""


@dataclass(frozen=True, slots=True)
class NodeResult:
    """``outcome`` picks the child; ``next`` overrides it (menu options, branch rules).
    ``end`` names why the call left the flow (transfer, voicemail, hangup) for terminal nodes."""

    outcome: str
    next: str | None = None
    end: str | None = None
    goto_flow: str | None = None
    use_child: bool = True


def expand(text: str, lookup: Callable[[str], str | None]) -> str:
    """``${name}`` -> its value (flow variable, then channel variable), unknown -> "" as in FreeSWITCH."""
    if "${" not in text:
        return text
    return _VAR.sub(lambda m: lookup(m.group(1)) or "", text)


@dataclass(slots=True)
class FlowContext:
    call: Call
    config: Config
    flow: Flow
    did: Did | None
    did_number: str
    records: RecordSink
    clock: Callable[[], datetime]
    ringer: GroupRinger
    consent: ConsentService
    pci: PciMasker
    trace: CallTrace
    logger: logging.Logger
    trace_ttl_s: int | None = None
    variables: dict[str, str] = field(default_factory=dict)
    step: StepBuilder = field(default_factory=StepBuilder)
    node_id: str = ""
    menu_path: list[tuple[str, str]] = field(default_factory=list)  # (flow, menu node) for "back"
    recording: str | None = None  # the path being recorded (after consent), for PCI masking
    tts_set: tuple[str, str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def uuid(self) -> str:
        return self.call.uuid

    @property
    def pbx(self) -> Any:
        return self.config.pbx

    def lookup(self, name: str) -> str | None:
        value = self.variables.get(name)
        return value if value is not None else self.call.variables.get(name)

    def expand(self, text: str) -> str:
        return expand(text, self.lookup)

    def note(self, **detail: Any) -> None:
        """Add facts to the current step's trace (never pass sensitive digits here)."""
        self.step.detail.update(detail)

    def flow_vars(self) -> Mapping[str, str]:
        return dict(self.variables)
