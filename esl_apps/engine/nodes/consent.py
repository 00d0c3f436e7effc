"""``consent``: resolve the policy (node, DID, pbx default) and let the consent feature decide."""

from __future__ import annotations

from esl_apps.call import CallHangup
from esl_apps.config.flows import ConsentNode, PromptItem, TtsPrompt
from esl_apps.engine.context import FlowContext, NodeResult
from esl_apps.engine.prompts import ensure_tts, play_items, render, split_for_collect
from esl_apps.features.consent import UNPLAYED, ConsentRequest, decision_summary, default_prompt_text

__all__ = ["resolve_policy", "run_consent"]


def resolve_policy(node: ConsentNode, ctx: FlowContext) -> str:
    if node.policy != "inherit":
        return node.policy
    if ctx.did is not None:
        return ctx.pbx.recording_policy_for(ctx.did)
    return ctx.pbx.recording.default_policy


def _default_prompt(policy: str, ctx: FlowContext, accept: str, decline: str) -> tuple[PromptItem, ...]:
    prompts = ctx.pbx.recording.prompts
    configured = {"notify_only": prompts.notice, "opt_out": prompts.opt_out, "opt_in": prompts.opt_in}.get(
        policy
    )
    if configured:
        return (configured,)
    text = default_prompt_text(policy, accept, decline)  # type: ignore[arg-type]
    return (TtsPrompt(tts=text),) if text else ()


async def run_consent(node: ConsentNode, ctx: FlowContext) -> NodeResult:
    earlier = ctx.consent.decision_for(ctx.uuid)
    if earlier is not None:  # e.g. a goto into a flow that asks again: the caller answered already
        ctx.note(reused=True, decision=earlier.decision)
        return NodeResult("recorded" if earlier.recorded else "not_recorded")
    settings = ctx.pbx.recording
    policy = resolve_policy(node, ctx)
    accept = node.accept_digit or settings.opt_in_key
    decline = node.decline_digit or settings.opt_out_key
    items = node.prompt or _default_prompt(policy, ctx, accept, decline)
    before, rest = split_for_collect(items) if policy != "never" else ((), ())
    prompt, voice, labels = render(rest, ctx)
    if prompt is None and rest and not before:
        # Every file of the notice is missing on the switch: announce with the policy's TTS text
        # rather than decide for a caller who heard nothing.
        spoken = default_prompt_text(policy, accept, decline)  # type: ignore[arg-type]
        if spoken:
            ctx.logger.warning("call %s: recording notice not found; announcing it with TTS", ctx.uuid)
            prompt, voice, labels = render((TtsPrompt(tts=spoken),), ctx)
    ctx.step.prompts.extend(labels)

    async def intro() -> None:
        await ensure_tts(voice, ctx)
        if before:
            await play_items(before, ctx)

    request = ConsentRequest(
        policy=policy,  # type: ignore[arg-type]
        prompt=prompt,
        accept_digit=accept,
        decline_digit=decline,
        timeout_ms=int(node.timeout_s * 1000),
        did=ctx.did_number,
        flow=ctx.flow.flow,
    )
    try:
        decision = await ctx.consent.decide(ctx.call, request, intro=intro)
    except CallHangup:
        stored = ctx.consent.decision_for(ctx.uuid)
        if stored is not None:
            ctx.trace.consent = decision_summary(stored)
        raise
    ctx.trace.consent = decision_summary(decision)
    if decision.digit and decision.digit not in ("timeout", "hangup", UNPLAYED):
        ctx.step.add_digits(decision.digit)
    ctx.note(policy=policy, decision=decision.decision)
    if decision.recorded:
        ctx.recording = decision.recording
        ctx.trace.recordings.append(decision.recording)
    return NodeResult("recorded" if decision.recorded else "not_recorded")
