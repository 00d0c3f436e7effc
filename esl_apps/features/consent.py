"""Recording consent: announce, take the caller's decision, record only when allowed.

The order matters legally: the recording starts only after the decision, and the decision is
stored (Redis and the local JSONL audit) before the call continues, so no recorded second exists
without a stored reason for it. The decision is also put on the channel (``esl_consent_*``) so it
lands in FreeSWITCH's CDR next to the call it belongs to.

Policies (per DID, or per consent node):
  notify_only  announce, then record;
  opt_out      announce "press N to opt out"; silence or any other key = consent;
  opt_in       record only when the caller presses the accept key;
  never        no announcement, never record.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from esl_apps.call import Call, CallCommandError, CallHangup
from esl_apps.features.recording_audit import AuditFile, RecordSink, make_private_dirs

if TYPE_CHECKING:
    from esl_apps.config.settings import RecordingSettings

__all__ = [
    "NOT_RECORDED",
    "ConsentDecision",
    "ConsentRequest",
    "ConsentService",
    "default_prompt_text",
]

NOT_RECORDED = "not recorded"
Policy = Literal["notify_only", "opt_out", "opt_in", "never"]
Decision = Literal["consented", "declined", "notified", "never", "hangup", "not_announced"]
UNPLAYED = "unplayed"  # the digit field when the switch could not play the notice
_RECORDING_ALLOWED = frozenset({"consented", "notified"})
_UNSAFE_PATH_CHARS = re.compile(r"[^0-9A-Za-z+_.-]")

VAR_POLICY = "esl_consent_policy"
VAR_DECISION = "esl_consent_decision"
VAR_PATH = "esl_recording_path"


def default_prompt_text(policy: Policy, accept_digit: str, decline_digit: str) -> str | None:
    """Spoken (TTS) when neither the node nor pbx ``recording.prompts`` names a file."""
    if policy == "notify_only":
        return "This call will be recorded for quality and training purposes."
    if policy == "opt_out":
        return (
            "This call will be recorded for quality and training purposes. "
            f"To opt out, press {decline_digit}."
        )
    if policy == "opt_in":
        return (
            "We would like to record this call for quality and training. "
            f"To allow this, press {accept_digit}."
        )
    return None


@dataclass(frozen=True, slots=True)
class ConsentRequest:
    policy: Policy
    prompt: str | None  # what the switch plays (file, tone or ``say:`` text); None: nothing
    accept_digit: str = "1"
    decline_digit: str = "9"
    timeout_ms: int = 5000
    did: str = ""
    flow: str = ""


@dataclass(frozen=True, slots=True)
class ConsentDecision:
    call_uuid: str
    caller: str
    did: str
    flow: str
    policy: Policy
    prompt: str | None
    digit: str | None  # the key pressed, "timeout", "hangup", or None when nothing was asked
    decision: Decision
    decided_at: str
    recording: str  # the recording path, or "not recorded"

    @property
    def recorded(self) -> bool:
        return self.recording != NOT_RECORDED

    def as_record(self) -> dict[str, Any]:
        return {"event": "consent_decision", **asdict(self)}


class ConsentService:
    """One per process; remembers decisions of live calls so later recording requests can be
    checked without a Redis round trip (``forget`` when the call ends)."""

    def __init__(
        self,
        settings: RecordingSettings,
        records: RecordSink,
        *,
        clock: Callable[[], datetime],
        audit: AuditFile | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        self.settings = settings
        self.records = records
        self.clock = clock
        self.audit = audit if audit is not None else AuditFile(settings.audit_file)
        self.log = logger or logging.getLogger(__name__)
        self._decisions: dict[str, ConsentDecision] = {}

    def decision_for(self, call_uuid: str) -> ConsentDecision | None:
        return self._decisions.get(call_uuid)

    def forget(self, call_uuid: str) -> None:
        self._decisions.pop(call_uuid, None)

    def recording_path(self, call: Call, *, did: str, flow: str, at: datetime) -> Path:
        name = self.settings.path_pattern.format(
            date=at.strftime("%Y-%m-%d"),
            time=at.strftime("%H%M%S"),
            uuid=_UNSAFE_PATH_CHARS.sub("_", call.uuid),
            did=_UNSAFE_PATH_CHARS.sub("_", did) or "unknown",
            caller=_UNSAFE_PATH_CHARS.sub("_", call.caller_number) or "anonymous",
            flow=_UNSAFE_PATH_CHARS.sub("_", flow) or "flow",
        )
        return Path(self.settings.directory) / name

    async def decide(
        self,
        call: Call,
        request: ConsentRequest,
        *,
        intro: Callable[[], Awaitable[None]] | None = None,
    ) -> ConsentDecision:
        """Run the policy on ``call``. A hangup during the prompt is stored as ``hangup`` and
        re-raised. ``intro`` plays prompt parts the switch cannot chain (e.g. ``say`` values)."""
        digit: str | None = None
        try:
            if request.policy != "never":
                if intro is not None:
                    await intro()
                digit = await self._ask(call, request)
        except CallHangup:
            decision = self._make(call, request, "hangup", "hangup", NOT_RECORDED)
            await self._store(decision)
            raise
        outcome = _decide(request, digit)
        decision = self._make(call, request, digit, outcome, NOT_RECORDED)
        hangup: CallHangup | None = None
        if outcome in _RECORDING_ALLOWED:
            try:
                path = await self._start(call, request)
            except CallHangup as exc:
                path, hangup = NOT_RECORDED, exc
            decision = replace(decision, recording=path)
        await self._store(decision)
        if hangup is not None:
            raise hangup
        await call.set_vars(
            {VAR_POLICY: decision.policy, VAR_DECISION: decision.decision, VAR_PATH: decision.recording}
        )
        return decision

    async def request_recording(self, call: Call, *, requested_by: str) -> str | None:
        """An agent or flow asks to record: allowed only after consent (or a notice). Returns the
        recording path, or None when refused; a refusal is audited like a decision."""
        decision = self._decisions.get(call.uuid)
        state = decision.decision if decision else await call.get_var(VAR_DECISION)
        if state not in _RECORDING_ALLOWED:
            record = {
                "event": "recording_refused",
                "call_uuid": call.uuid,
                "requested_by": requested_by,
                "requested_at": self.clock().isoformat(),
                "decision": state or "none",
                "policy": decision.policy if decision else await call.get_var(VAR_POLICY),
            }
            self.log.warning("recording refused for call %s (decision %s)", call.uuid, state or "none")
            await self.records.append("consent", record)
            await self.audit.append(record)
            return None
        if decision is not None and decision.recorded:
            return decision.recording
        existing = await call.get_var(VAR_PATH)
        if existing and existing != NOT_RECORDED:
            return existing
        did = decision.did if decision else call.destination
        flow = decision.flow if decision else ""
        path = self.recording_path(call, did=did, flow=flow, at=self.clock())
        _prepare_dir(path, Path(self.settings.directory), self.log)
        await call.record_start(str(path), stereo=self.settings.stereo)
        record = {
            "event": "recording_started_on_request",
            "call_uuid": call.uuid,
            "requested_by": requested_by,
            "requested_at": self.clock().isoformat(),
            "recording": str(path),
        }
        await self.records.append("consent", record)
        await self.audit.append(record)
        if decision is not None:
            self._decisions[call.uuid] = replace(decision, recording=str(path))
        await call.set_var(VAR_PATH, str(path))
        return str(path)

    # -- internals ------------------------------------------------------------------------------
    async def _ask(self, call: Call, request: ConsentRequest) -> str | None:
        if request.prompt is None:
            return None
        if request.policy == "notify_only":
            reply = (await call.play(request.prompt)).upper()
            return UNPLAYED if "NOT FOUND" in reply or "ERROR" in reply else None
        result = await call.collect(
            request.prompt,
            min_digits=1,
            max_digits=1,
            tries=1,
            timeout_ms=request.timeout_ms,
            terminators="",
            variable="esl_consent_digit",
        )
        if not result.prompt_played:
            return UNPLAYED
        return result.digits or "timeout"

    async def _start(self, call: Call, request: ConsentRequest) -> str:
        path = self.recording_path(call, did=request.did, flow=request.flow, at=self.clock())
        _prepare_dir(path, Path(self.settings.directory), self.log)
        try:
            await call.record_start(str(path), stereo=self.settings.stereo)
        except CallCommandError as exc:
            self.log.error("call %s: recording could not start (%s)", call.uuid, exc.reply_text)
            return NOT_RECORDED
        return str(path)

    def _make(
        self, call: Call, request: ConsentRequest, digit: str | None, outcome: Decision, recording: str
    ) -> ConsentDecision:
        return ConsentDecision(
            call_uuid=call.uuid,
            caller=call.caller_number,
            did=request.did,
            flow=request.flow,
            policy=request.policy,
            prompt=request.prompt,
            digit=digit,
            decision=outcome,
            decided_at=self.clock().isoformat(),
            recording=recording,
        )

    async def _store(self, decision: ConsentDecision) -> None:
        self._decisions[decision.call_uuid] = decision
        record = decision.as_record()
        # Both must be done before the call continues; doing them side by side halves the wait.
        await asyncio.gather(
            self.records.append("consent", record, doc_key=f"consent:{decision.call_uuid}"),
            self.audit.append(record),
        )
        self.log.info(
            "call %s consent %s (%s, digit %s)",
            decision.call_uuid,
            decision.decision,
            decision.policy,
            decision.digit,
        )


def _decide(request: ConsentRequest, digit: str | None) -> Decision:
    if digit == UNPLAYED and request.policy != "never":
        # Silence can be consent only from a caller who heard the notice: never record unannounced.
        return "not_announced"
    match request.policy:
        case "never":
            return "never"
        case "notify_only":
            return "notified"
        case "opt_out":
            return "declined" if digit == request.decline_digit else "consented"
        case _:  # opt_in: only the accept key counts
            return "consented" if digit == request.accept_digit else "declined"


def _prepare_dir(path: Path, root: Path, log: logging.Logger) -> None:
    """Create the recording's folders private (0700). FreeSWITCH may run on another host, where
    it creates them itself; a local failure is therefore logged, not fatal."""
    try:
        make_private_dirs(root)
        make_private_dirs(path.parent, root=root)
    except OSError as exc:
        log.warning("cannot create recording directory %s: %s", path.parent, exc)


def decision_summary(decision: ConsentDecision) -> Mapping[str, Any]:
    """The fields a call trace keeps (the full record lives under ``consent:<uuid>``)."""
    return {
        "policy": decision.policy,
        "decision": decision.decision,
        "digit": decision.digit,
        "recording": decision.recording,
    }
