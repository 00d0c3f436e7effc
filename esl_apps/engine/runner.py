"""The flow engine: walks a call through its IVR flow, one node function at a time.

Failure policy, in order: a caller hangup anywhere ends the run cleanly; a node that fails
(exception) is logged with the call UUID and the call goes to the flow's ``error_exit``; if that
fails too, the exception propagates so the transport closes the socket and FreeSWITCH continues
with the static dialplan fallback after the ``socket`` action. The caller never sits in silence.
Either way the call's trace is written once, at the end.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from esl_apps.call import Call, CallHangup
from esl_apps.engine.context import FlowContext, FlowError
from esl_apps.engine.nodes import HANDLERS
from esl_apps.engine.ringer import GroupRinger, SimultaneousRinger
from esl_apps.engine.trace import CallTrace, StepBuilder, TraceStep, log_event
from esl_apps.features.consent import ConsentService
from esl_apps.features.pci import PciMasker
from esl_apps.features.recording_audit import AuditFile, RecordSink

if TYPE_CHECKING:
    from esl_apps.config import Config
    from esl_apps.config.flows import Flow
    from esl_apps.config.pbx import Did

__all__ = ["MAX_STEPS", "FlowEngine", "match_did"]

MAX_STEPS = 200  # nodes per call; beyond this a flow is looping and takes its error exit
_NON_DIGITS = re.compile(r"\D")


def match_did(dids: Sequence[Did], dialled: str) -> Did | None:
    """Carriers present the same number as +44..., 44... or 0...: compare exactly, then by
    digits, then by the trailing national number (at least 9 digits in common)."""
    for did in dids:
        if did.number == dialled:
            return did
    digits = _NON_DIGITS.sub("", dialled)
    if not digits:
        return None
    for did in dids:
        if _NON_DIGITS.sub("", did.number) == digits:
            return did
    for did in dids:
        own = _NON_DIGITS.sub("", did.number)
        tail = min(len(own), len(digits)) - 1
        if tail >= 9 and own[-tail:] == digits[-tail:]:
            return did
    return None


def _utc_now() -> datetime:
    return datetime.now(UTC)


class FlowEngine:
    """One per process; :meth:`run` is called once per call (concurrently)."""

    def __init__(
        self,
        config: Config,
        *,
        records: RecordSink,
        clock: Callable[[], datetime] | None = None,
        ringer: GroupRinger | None = None,
        logger: logging.Logger | None = None,
        audit: AuditFile | None = None,
        max_steps: int = MAX_STEPS,
    ) -> None:
        self.config = config
        self.records = records
        self.clock = clock or _utc_now
        self.ringer: GroupRinger = ringer or SimultaneousRinger()
        self.log = logger or logging.getLogger("esl_apps.engine")
        recording = config.pbx.recording
        self.audit = audit if audit is not None else AuditFile(recording.audit_file)
        self.consent = ConsentService(recording, records, clock=self.clock, audit=self.audit, logger=self.log)
        self.pci = PciMasker(self.audit, clock=self.clock, logger=self.log)
        self.trace_ttl_s = config.pbx.redis.trace_ttl_days * 86400
        self.max_steps = max_steps

    async def close(self) -> None:
        """Flush what is pending (the audit file's batched fsync); call on shutdown."""
        await self.audit.close()

    # -- flow selection -------------------------------------------------------------------------
    def select_flow(self, call: Call, flow: str | None = None) -> tuple[Flow, Did | None]:
        """Explicit flow, else the channel variable ``esl_apps_flow`` (set in the dialplan), else
        the DID's flow, else ``main``."""
        # The generated dialplan names the DID exactly as configured; the dialled form may differ.
        did = match_did(self.config.pbx.dids, call.variables.get("esl_apps_did") or call.destination)
        name = flow or call.variables.get("esl_apps_flow") or (did.flow if did else None)
        if name is None and "main" in self.config.flows:
            self.log.warning("call %s: no DID matches %r; using flow 'main'", call.uuid, call.destination)
            name = "main"
        if name is None or name not in self.config.flows:
            raise FlowError(f"no flow for destination {call.destination!r} (flow {name!r})")
        return self.config.flows[name], did

    # -- running --------------------------------------------------------------------------------
    async def run(self, call: Call, *, flow: str | None = None) -> CallTrace:
        try:
            chosen, did = self.select_flow(call, flow)
        except FlowError as exc:  # nothing to run: the dialplan fallback takes the call
            log_event(
                self.log, {"event": "ivr_no_flow", "call_uuid": call.uuid, "error": str(exc)}, logging.ERROR
            )
            raise
        trace = CallTrace(
            call_uuid=call.uuid,
            caller=call.caller_number,
            did=did.number if did else call.destination,
            flow=chosen.flow,
            started_at=self.clock(),
        )
        ctx = FlowContext(
            call=call,
            config=self.config,
            flow=chosen,
            did=did,
            did_number=trace.did,
            records=self.records,
            clock=self.clock,
            ringer=self.ringer,
            consent=self.consent,
            pci=self.pci,
            trace=trace,
            logger=self.log,
            trace_ttl_s=self.trace_ttl_s,
        )
        try:
            await self._run(ctx, chosen)
        finally:
            trace.ended_at = self.clock()
            self.consent.forget(call.uuid)
            log_event(
                self.log,
                {
                    "event": "ivr_end",
                    "call_uuid": call.uuid,
                    "end": trace.end,
                    "node": trace.end_node,
                    "steps": len(trace.steps),
                },
            )
            await self._store(trace)
        return trace

    async def _run(self, ctx: FlowContext, first: Flow) -> None:
        trace = ctx.trace
        try:
            await ctx.call.answer()
            await self._walk(ctx, first.start)
            return
        except CallHangup as hup:
            self._ended_by_caller(ctx, hup)
            return
        except Exception as exc:
            self.log.exception(
                "call %s: flow %s node %s failed: %s", ctx.uuid, ctx.flow.flow, ctx.node_id, exc
            )
            trace.error = f"{ctx.flow.flow}:{ctx.node_id}: {type(exc).__name__}: {exc}"
            exit_node = ctx.flow.error_exit or first.error_exit
            exit_flow = ctx.flow if ctx.flow.error_exit else first
            if exit_node is None or ctx.call.hung_up:
                trace.end, trace.end_node = "error", ctx.node_id
                if ctx.call.hung_up:
                    return
                raise
        ctx.flow = exit_flow
        ctx.extra["error_path"] = True
        try:
            await self._walk(ctx, exit_node)
        except CallHangup as hup:
            self._ended_by_caller(ctx, hup)
        except Exception:
            self.log.exception(
                "call %s: error exit %s failed too; leaving the call to the dialplan", ctx.uuid, exit_node
            )
            trace.end, trace.end_node = "error", ctx.node_id
            raise

    def _ended_by_caller(self, ctx: FlowContext, hup: CallHangup) -> None:
        ctx.trace.end = "caller_hangup"
        ctx.trace.end_node = ctx.node_id or None
        self.log.info("call %s: caller hung up in %s (%s)", ctx.uuid, ctx.node_id or "answer", hup.cause)

    async def _walk(self, ctx: FlowContext, node_id: str | None) -> None:
        steps = 0
        while node_id is not None:
            steps += 1
            if steps > self.max_steps:
                raise FlowError(f"more than {self.max_steps} nodes in one call: the flow loops")
            node = ctx.flow.nodes.get(node_id)
            if node is None:
                raise FlowError(f"node {node_id!r} does not exist in flow {ctx.flow.flow!r}")
            ctx.node_id = node_id
            ctx.step = StepBuilder()
            try:
                result = await HANDLERS[node.type](node, ctx)
            except CallHangup:
                self._step(ctx, node, "caller_hangup", None)
                raise
            except Exception as exc:
                self._step(ctx, node, "error", None, error=f"{type(exc).__name__}: {exc}")
                raise
            next_id = node.child(result.outcome) if result.use_child else result.next
            self._step(ctx, node, result.outcome, next_id)
            if result.goto_flow:
                ctx.flow = self.config.flows[result.goto_flow]
            if result.end:
                ctx.trace.end, ctx.trace.end_node = result.end, node_id
                return
            node_id = next_id
        ctx.trace.end, ctx.trace.end_node = "flow_end", ctx.node_id
        if not ctx.call.hung_up:
            await ctx.call.hangup("NORMAL_CLEARING")

    def _step(self, ctx: FlowContext, node: Any, outcome: str, next_id: str | None, **extra: Any) -> None:
        detail = dict(ctx.step.detail, **extra)
        step = TraceStep(
            flow=ctx.flow.flow,
            node=ctx.node_id,
            type=node.type,
            outcome=outcome,
            at=self.clock().isoformat(),
            prompts=tuple(ctx.step.prompts),
            digits=ctx.step.digits,
            next=next_id,
            detail=detail,
        )
        ctx.trace.steps.append(step)
        if self.log.isEnabledFor(logging.INFO):
            log_event(self.log, {"event": "ivr_step", "call_uuid": ctx.uuid, **step.as_dict()})

    async def _store(self, trace: CallTrace) -> None:
        try:
            await self.records.append(
                "calls", trace.as_record(), doc_key=f"trace:{trace.call_uuid}", ttl_s=self.trace_ttl_s
            )
        except Exception:  # the record log spools on outage; anything else is a bug, never the call's problem
            self.log.exception("call %s: trace could not be stored", trace.call_uuid)
