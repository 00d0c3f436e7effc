"""PCI masking: card digits must never be heard in a recording nor read in a log.

While a sensitive collect runs, the recording is masked (``uuid_record <uuid> mask <file>``: the
file keeps its length, the span is written as silence) and unmasked right after. The span is
audited with its start, end and node, and the audit is written even when the caller hangs up in
the middle (``finally``), because "was the recording masked while the card was keyed?" is exactly
what a PCI assessor asks about the calls that ended badly.

If the switch refuses to mask, the recording is stopped instead: a lost recording is recoverable,
a recorded card number is a breach.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal

from esl_apps.call import Call, CallCommandError, CallHangup
from esl_apps.features.recording_audit import AuditFile

__all__ = ["MaskHandle", "MaskSpan", "PciMasker", "log_form", "stored_form"]

StoreMode = Literal["none", "last4", "full"]


def stored_form(digits: str, mode: StoreMode) -> str | None:
    """What may be kept of the digits: all, the last four, or nothing."""
    if mode == "full":
        return digits
    if mode == "last4":
        return digits[-4:]
    return None


def log_form(digits: str, mode: StoreMode) -> str:
    """What logs and traces show of sensitive digits: the length, plus the last four if stored."""
    if mode == "last4" and len(digits) > 4:
        return "*" * (len(digits) - 4) + digits[-4:]
    return "*" * len(digits)


@dataclass(frozen=True, slots=True)
class MaskSpan:
    call_uuid: str
    flow: str
    node: str
    recording: str
    start: str
    end: str
    closed_by: Literal["unmask", "hangup", "unmask_failed", "recording_stopped"]

    def as_record(self) -> dict[str, Any]:
        return {"event": "pci_mask", **asdict(self)}


class MaskHandle:
    """Tells the caller of :meth:`PciMasker.masked` whether the recording had to be stopped."""

    __slots__ = ("recording_stopped", "span")

    def __init__(self) -> None:
        self.recording_stopped = False
        self.span: MaskSpan | None = None


class PciMasker:
    def __init__(
        self,
        audit: AuditFile | None,
        *,
        clock: Callable[[], datetime],
        logger: logging.Logger | None = None,
    ) -> None:
        self.audit = audit
        self.clock = clock
        self.log = logger or logging.getLogger(__name__)

    @asynccontextmanager
    async def masked(
        self, call: Call, *, recording: str | None, flow: str, node: str
    ) -> AsyncIterator[MaskHandle]:
        """Mask ``recording`` for the body of the ``async with``; nothing to do when not recording."""
        handle = MaskHandle()
        if recording is None:
            yield handle
            return
        start = self.clock()
        closed_by: Any = "unmask"
        try:
            await call.record_mask(recording)
        except CallCommandError as exc:
            self.log.error(
                "call %s: mask refused (%s); stopping the recording before card entry",
                call.uuid,
                exc.reply_text,
            )
            await call.record_stop(recording)
            handle.recording_stopped = True
            closed_by = "recording_stopped"
        try:
            yield handle
        except CallHangup:
            closed_by = "hangup"
            raise
        finally:
            if closed_by == "unmask":
                if call.hung_up:
                    closed_by = "hangup"
                else:
                    try:
                        await call.record_unmask(recording)
                    except CallHangup:
                        closed_by = "hangup"
                    except CallCommandError as exc:
                        self.log.error("call %s: unmask refused (%s)", call.uuid, exc.reply_text)
                        closed_by = "unmask_failed"
            handle.span = MaskSpan(
                call_uuid=call.uuid,
                flow=flow,
                node=node,
                recording=recording,
                start=start.isoformat(),
                end=self.clock().isoformat(),
                closed_by=closed_by,
            )
            if self.audit is not None:
                await self.audit.append(handle.span.as_record())
