"""``menu``: a greeting with options, repeat/back keys and direct dial of an extension.

The retry loop lives here rather than in the switch's ``play_and_get_digits`` because a menu
reacts differently to silence (timeout prompt), garbage (invalid prompt), the repeat key and the
back key, and only the application knows which menu came before. Timeouts and invalid keys both
count towards ``max_tries``; repeats are capped separately, so no caller behaviour keeps a call
in one menu forever.
"""

from __future__ import annotations

import re

from esl_apps.call import CollectResult
from esl_apps.config.flows import MenuNode
from esl_apps.engine.context import FlowContext, NodeResult
from esl_apps.engine.prompts import collect_prompt, play_items

__all__ = ["MAX_REPEATS", "run_menu"]

MAX_REPEATS = 5


def _enter(ctx: FlowContext) -> None:
    """Keep the chain of menus that led here (for the back key); revisiting one truncates it."""
    here = (ctx.flow.flow, ctx.node_id)
    if here in ctx.menu_path:
        del ctx.menu_path[ctx.menu_path.index(here) + 1 :]
    else:
        ctx.menu_path.append(here)


async def _ask(node: MenuNode, ctx: FlowContext, max_digits: int, terminators: str) -> CollectResult:
    prompt = await collect_prompt(node.prompt, ctx)
    return await ctx.call.collect(
        prompt,
        min_digits=1,
        max_digits=max_digits,
        tries=1,
        timeout_ms=int(node.timeout_s * 1000),
        terminators=terminators,
        digit_timeout_ms=int(node.digit_timeout_s * 1000) if max_digits > 1 else None,
        variable="esl_menu_digits",
    )


async def run_menu(node: MenuNode, ctx: FlowContext) -> NodeResult:
    _enter(ctx)
    direct = node.direct_dial
    max_digits = max(1, direct.max_digits) if direct else 1
    keys = set(node.options) | {k for k in (node.repeat_key, node.back_key) if k}
    terminators = "" if "#" in keys else "#"  # a key that is also the terminator could never be chosen
    attempts: list[str] = []
    ctx.note(attempts=attempts)
    tries = repeats = 0
    while tries < node.max_tries:
        result = await _ask(node, ctx, max_digits, terminators)
        digits = result.digits
        if not digits:
            attempts.append("timeout" if not result.invalid_digits else "invalid")
            tries += 1
            if node.timeout_prompt and tries < node.max_tries:
                await play_items(node.timeout_prompt, ctx)
            continue
        ctx.step.add_digits(digits)
        if digits == node.repeat_key and repeats < MAX_REPEATS:
            repeats += 1
            attempts.append("repeat")
            continue
        if digits == node.back_key:
            attempts.append("back")
            if len(ctx.menu_path) >= 2:
                flow, menu = ctx.menu_path[-2]
                goto = flow if flow != ctx.flow.flow else None
                return NodeResult("back", next=menu, goto_flow=goto, use_child=False)
            continue  # nothing to go back to: hear this menu again
        if digits in node.options:
            attempts.append(f"option:{digits}")
            return NodeResult(f"option:{digits}", next=node.options[digits], use_child=False)
        if (
            direct
            and direct.min_digits <= len(digits) <= direct.max_digits
            and re.search(direct.pattern, digits)
        ):
            attempts.append("direct_dial")
            ctx.note(extension=digits, context=direct.context)
            await ctx.call.transfer(digits, direct.context)
            return NodeResult("direct_dial", end="transfer", use_child=False)
        attempts.append("invalid")
        tries += 1
        if node.invalid_prompt and tries < node.max_tries:
            await play_items(node.invalid_prompt, ctx)
    return NodeResult("max_tries")
