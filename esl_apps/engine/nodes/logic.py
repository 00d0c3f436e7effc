"""Nodes that decide without talking to the caller: set, branch_time, branch_caller, branch_var, goto."""

from __future__ import annotations

import re

from esl_apps.config.flows import BranchCallerNode, BranchTimeNode, BranchVarNode, GotoNode, SetNode
from esl_apps.engine.context import FlowContext, FlowError, NodeResult
from esl_apps.engine.hours import evaluate

__all__ = ["run_branch_caller", "run_branch_time", "run_branch_var", "run_goto", "run_set"]


async def run_set(node: SetNode, ctx: FlowContext) -> NodeResult:
    """Flow variables are also channel variables, so the dialplan and the CDR see them too."""
    for name, raw in node.variables.items():
        value = ctx.expand(raw)
        ctx.variables[name] = value
        await ctx.call.set_var(name, value)
    ctx.note(variables={k: ctx.variables[k] for k in node.variables})
    return NodeResult("next")


async def run_branch_time(node: BranchTimeNode, ctx: FlowContext) -> NodeResult:
    schedule = ctx.pbx.schedules.get(node.schedule)
    if schedule is None:
        raise FlowError(f"schedule {node.schedule!r} is not defined in pbx.yaml")
    verdict = evaluate(schedule, ctx.clock())
    ctx.note(
        local_time=verdict.local_time.isoformat(), **({"holiday": verdict.holiday} if verdict.holiday else {})
    )
    if verdict.status == "holiday" and "holiday" not in node.children:
        return NodeResult("holiday", next=node.children.get("closed"), use_child=False)
    return NodeResult(verdict.status)


async def run_branch_caller(node: BranchCallerNode, ctx: FlowContext) -> NodeResult:
    """Patterns are searched like FreeSWITCH conditions: unanchored unless written ^...$."""
    caller = ctx.call.caller_number
    for index, rule in enumerate(node.rules):
        if re.search(rule.pattern, caller):
            return NodeResult(f"rule:{index}", next=rule.to, use_child=False)
    return NodeResult("default", next=node.default, use_child=False)


async def run_branch_var(node: BranchVarNode, ctx: FlowContext) -> NodeResult:
    value = ctx.lookup(node.variable) or ""
    ctx.note(value=value)
    if value in node.cases:
        return NodeResult(f"case:{value}", next=node.cases[value], use_child=False)
    return NodeResult("default", next=node.default, use_child=False)


async def run_goto(node: GotoNode, ctx: FlowContext) -> NodeResult:
    target = ctx.config.flows.get(node.flow)
    if target is None:
        raise FlowError(f"goto: flow {node.flow!r} is not loaded")
    return NodeResult("goto", next=node.node or target.start, goto_flow=node.flow, use_child=False)
