"""``collect``: digits into a flow variable, with PCI handling for ``sensitive: true``.

For a sensitive collect the switch writes the digits into a private channel variable which is
cleared right after, and the admin's variable only ever holds the ``store`` form (last 4 or
nothing): channel variables end up in CDRs, and a CDR must not carry a card number.
"""

from __future__ import annotations

from esl_apps.call import CollectResult
from esl_apps.config.flows import CollectNode
from esl_apps.engine.context import FlowContext, NodeResult
from esl_apps.engine.prompts import collect_prompt, playable
from esl_apps.features.pci import log_form, stored_form

__all__ = ["PRIVATE_VARIABLE", "run_collect"]

PRIVATE_VARIABLE = "esl_apps_private_digits"


async def _collect(node: CollectNode, ctx: FlowContext, variable: str) -> CollectResult:
    prompt = await collect_prompt(node.prompt, ctx)
    invalid = await playable(node.invalid_prompt, ctx, record=False)
    return await ctx.call.collect(
        prompt,
        min_digits=node.min_digits,
        max_digits=node.max_digits,
        tries=node.tries,
        timeout_ms=int(node.timeout_s * 1000),
        terminators=node.terminators,
        regex=node.regex,
        invalid_prompt=invalid,
        digit_timeout_ms=int(node.digit_timeout_s * 1000) if node.digit_timeout_s else None,
        variable=variable,
    )


async def run_collect(node: CollectNode, ctx: FlowContext) -> NodeResult:
    mode = node.store_mode
    if not node.sensitive and mode == "full":
        result = await _collect(node, ctx, node.variable)
        if result.digits:
            ctx.step.add_digits(result.digits)
        if result.ok:
            ctx.variables[node.variable] = result.digits
        ctx.note(status=str(result.status))
        return NodeResult("ok" if result.ok else "failed")

    handle = None
    try:
        recording = ctx.recording if node.sensitive else None
        async with ctx.pci.masked(
            ctx.call, recording=recording, flow=ctx.flow.flow, node=ctx.node_id
        ) as handle:
            result = await _collect(node, ctx, PRIVATE_VARIABLE)
    finally:
        if handle is not None and handle.span is not None:
            span = handle.span.as_record()
            span.pop("event", None)
            ctx.trace.mask_spans.append(span)
        if handle is not None and handle.recording_stopped:
            ctx.note(recording_stopped=ctx.recording)
            ctx.recording = None
    if result.digits:
        ctx.step.add_digits(log_form(result.digits, mode) if node.sensitive else result.digits)
    kept = stored_form(result.digits, mode) if result.ok else None
    # Overwrite what the switch stored before anything else can read it (CDR, later nodes).
    await ctx.call.set_vars({PRIVATE_VARIABLE: "", f"{PRIVATE_VARIABLE}_invalid": ""})
    if kept is not None:
        ctx.variables[node.variable] = kept
        await ctx.call.set_var(node.variable, kept)
    ctx.note(status=str(result.status), stored=mode, masked=bool(handle and handle.span))
    return NodeResult("ok" if result.ok else "failed")
