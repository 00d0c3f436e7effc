"""``play`` and ``say`` nodes: output only, one outcome (``next``)."""

from __future__ import annotations

from esl_apps.config.flows import PlayNode, SayNode
from esl_apps.engine.context import FlowContext, NodeResult
from esl_apps.engine.prompts import play_items, say_value

__all__ = ["run_play", "run_say"]


async def run_play(node: PlayNode, ctx: FlowContext) -> NodeResult:
    await play_items(node.prompt, ctx)
    return NodeResult("next")


async def run_say(node: SayNode, ctx: FlowContext) -> NodeResult:
    ctx.step.prompts.append(f"say:{node.say.type}:{ctx.expand(node.say.value)}")
    await say_value(node.say, ctx)
    return NodeResult("next")
