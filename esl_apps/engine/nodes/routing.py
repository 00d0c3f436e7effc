"""Nodes that hand the caller to people or end the call: ring_group, queue, transfer,
voicemail, callback, hangup."""

from __future__ import annotations

import contextlib
import re

from esl_apps.call import CallHangup
from esl_apps.config.flows import (
    CallbackNode,
    HangupNode,
    QueueNode,
    RingGroupNode,
    TransferNode,
    TtsPrompt,
    VoicemailNode,
)
from esl_apps.engine.context import FlowContext, FlowError, NodeResult
from esl_apps.engine.prompts import collect_prompt, play_items
from esl_apps.engine.ringer import RingContext, RingOutcome

__all__ = ["run_callback", "run_hangup", "run_queue", "run_ring_group", "run_transfer", "run_voicemail"]

_DIALLABLE = re.compile(r"\+?[0-9]{3,15}")
_DEFAULT_OFFER = (TtsPrompt(tts="We can call you back on the number you are calling from,"),)
_DEFAULT_CONFIRM = (TtsPrompt(tts="To confirm, press 1."),)
# RingOutcome.detail entries the call's trace keeps (see esl_apps.features.ringgroup_runtime).
_OVERFLOW_DETAIL = ("overflow_from", "overflow", "end", "callback_request")


def _note_ring(ctx: FlowContext, kind: str, target: str, outcome: RingOutcome) -> None:
    entry = {
        "node": ctx.node_id,
        kind: target,
        "status": outcome.status,
        "cause": outcome.cause,
        "rang": list(outcome.rang),
    }
    if outcome.answered_by:
        entry["answered_by"] = outcome.answered_by
    # What the group's overflow did with the call (another group, a voicemail box, a callback).
    entry |= {key: outcome.detail[key] for key in _OVERFLOW_DETAIL if outcome.detail.get(key)}
    ctx.trace.bridges.append(entry)
    ctx.note(**{k: v for k, v in entry.items() if k != "node"})


async def _after_ring(outcome: RingOutcome, ctx: FlowContext) -> NodeResult:
    """An answered call usually ends inside the bridge (caller hangs up): that is a success,
    not an interruption, so the call ends here instead of failing in the next node.

    A ringer whose overflow finished the call (``detail["end"]``: the caller left a voicemail or
    asked for a callback) ends the flow the same way, with that as the call's end: the caller
    hanging up after their message is the normal way out, and the flow's children are for
    conditions the group had no overflow for."""
    end = outcome.detail.get("end")
    if end:
        if not ctx.call.hung_up:  # the overflow is over: never leave the caller in silence
            with contextlib.suppress(CallHangup):
                await ctx.call.hangup("NORMAL_CLEARING")
        return NodeResult(outcome.status, end=str(end), use_child=False)
    if ctx.call.hung_up:
        return NodeResult(
            outcome.status,
            end="bridged" if outcome.status == "answered" else "caller_hangup",
            use_child=False,
        )
    return NodeResult(outcome.status)


def _ring_context(ctx: FlowContext, queue: str | None = None) -> RingContext:
    return RingContext(
        pbx=ctx.pbx,
        flow=ctx.flow.flow,
        node=ctx.node_id,
        variables=dict(ctx.variables),
        queue=queue,
        logger=ctx.logger,
    )


async def run_ring_group(node: RingGroupNode, ctx: FlowContext) -> NodeResult:
    if node.group not in ctx.pbx.ring_groups:
        raise FlowError(f"ring group {node.group!r} is not defined in pbx.yaml")
    outcome = await ctx.ringer.ring(ctx.call, node.group, _ring_context(ctx))
    _note_ring(ctx, "group", node.group, outcome)
    return await _after_ring(outcome, ctx)


async def run_queue(node: QueueNode, ctx: FlowContext) -> NodeResult:
    queue = ctx.pbx.queues.get(node.queue)
    if queue is None:
        raise FlowError(f"queue {node.queue!r} is not defined in pbx.yaml")
    outcome = await ctx.ringer.ring(ctx.call, queue.group, _ring_context(ctx, node.queue))
    _note_ring(ctx, "queue", node.queue, outcome)
    return await _after_ring(outcome, ctx)


async def run_transfer(node: TransferNode, ctx: FlowContext) -> NodeResult:
    extension = ctx.expand(node.extension)
    ctx.note(extension=extension, context=node.context)
    await ctx.call.transfer(extension, node.context)
    return NodeResult("transferred", end="transfer", use_child=False)


async def run_voicemail(node: VoicemailNode, ctx: FlowContext) -> NodeResult:
    box = ctx.pbx.voicemail.boxes.get(node.box)
    if box is None:
        raise FlowError(f"voicemail box {node.box!r} is not defined in pbx.yaml")
    ctx.note(box=node.box, number=box.number)
    try:
        await ctx.call.voicemail(box.number, ctx.pbx.voicemail_domain, ctx.pbx.voicemail.profile)
    except CallHangup:  # the normal way out of voicemail: the caller leaves a message and hangs up
        return NodeResult("left", end="voicemail", use_child=False)
    # voicemail returns early (e.g. its prompts are missing) with the caller still parked on us.
    if not ctx.call.hung_up:
        await ctx.call.hangup("NORMAL_CLEARING")
    return NodeResult("left", end="voicemail", use_child=False)


async def run_hangup(node: HangupNode, ctx: FlowContext) -> NodeResult:
    await ctx.call.hangup(node.cause)
    return NodeResult("hangup", end="hangup", use_child=False)


async def run_callback(node: CallbackNode, ctx: FlowContext) -> NodeResult:
    """Placeholder until the callback feature: read the number back, store the request."""
    number = ctx.call.caller_number
    if not _DIALLABLE.fullmatch(number):
        ctx.note(reason="caller number withheld or not diallable")
        return NodeResult("declined")
    await play_items(node.prompt or _DEFAULT_OFFER, ctx)
    ctx.step.prompts.append(f"say:digits:{number}")
    await ctx.call.say(ctx.flow.language, "number", "iterated", number.lstrip("+"))
    settings = ctx.pbx.callbacks
    if settings is None or settings.confirm_number:
        prompt = await collect_prompt(node.confirm_prompt or _DEFAULT_CONFIRM, ctx)
        result = await ctx.call.collect(
            prompt,
            min_digits=1,
            max_digits=1,
            tries=1,
            timeout_ms=int(node.timeout_s * 1000),
            terminators="",
            variable="esl_callback_confirm",
        )
        if result.digits:
            ctx.step.add_digits(result.digits)
        if result.digits != node.confirm_digit:
            return NodeResult("declined")
    record = {
        "event": "callback_requested",
        "call_uuid": ctx.uuid,
        "number": number,
        "group": node.group,
        "did": ctx.did_number,
        "flow": ctx.flow.flow,
        "node": ctx.node_id,
        "requested_at": ctx.clock().isoformat(),
        "status": "pending",
    }
    await ctx.records.append("callbacks", record, doc_key=f"callback:{ctx.uuid}")
    ctx.note(number=number, group=node.group)
    return NodeResult("requested")
