"""How ``ring_group`` and ``queue`` nodes reach agents: a small protocol the ring-group engine
replaces later, and a default that rings every member at once.

Keeping this behind :class:`GroupRinger` means the flow engine never learns about strategies,
agent state or queues; it only needs to know which of four outcomes picks the next node.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from esl_apps.call import BridgeOutcome, BridgeResult, BridgeTarget, Call

if TYPE_CHECKING:
    from esl_apps.config.pbx import PbxConfig

__all__ = ["GroupRinger", "RingContext", "RingOutcome", "SimultaneousRinger", "outcome_from_bridge"]

RingStatus = Literal["answered", "no_answer", "busy", "failed"]


@dataclass(frozen=True, slots=True)
class RingContext:
    """What a ringer may know about the flow that sent the call (read-only)."""

    pbx: PbxConfig
    flow: str
    node: str
    variables: Mapping[str, str]
    queue: str | None = None  # set when a ``queue`` node asked (group is the queue's group)
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("esl_apps.engine"))


@dataclass(frozen=True, slots=True)
class RingOutcome:
    status: RingStatus
    answered_by: str | None = None
    cause: str = ""
    rang: tuple[str, ...] = ()  # endpoints (or agent ids) that were offered the call
    detail: Mapping[str, Any] = field(default_factory=dict)


class GroupRinger(Protocol):
    async def ring(self, call: Call, group_id: str, ctx: RingContext) -> RingOutcome: ...


def outcome_from_bridge(result: BridgeResult) -> RingStatus:
    """Four outcomes are what a flow branches on; a rejected leg is a busy agent to the caller."""
    match result.outcome:
        case BridgeOutcome.ANSWERED:
            return "answered"
        case BridgeOutcome.NO_ANSWER:
            return "no_answer"
        case BridgeOutcome.BUSY | BridgeOutcome.REJECTED:
            return "busy"
        case _:
            return "failed"


class SimultaneousRinger:
    """Rings every endpoint of every member of the group at once (the placeholder strategy)."""

    async def ring(self, call: Call, group_id: str, ctx: RingContext) -> RingOutcome:
        group = ctx.pbx.ring_groups[group_id]
        targets: list[BridgeTarget] = []
        for member in ctx.pbx.members_of(group_id):
            agent = ctx.pbx.agents_by_id.get(member.agent)
            if agent is None:
                continue
            for endpoint in ctx.pbx.dial_strings(agent):
                targets.append(
                    BridgeTarget(
                        endpoint=endpoint,
                        timeout_s=group.member_timeout(member),
                        delay_s=member.delay,
                        agent_id=agent.id,
                    )
                )
        if not targets:
            return RingOutcome(status="failed", cause="NO_MEMBERS")
        result = await call.bridge(targets, simultaneous=True)
        return RingOutcome(
            status=outcome_from_bridge(result),
            answered_by=result.answered_by,
            cause=result.cause,
            rang=tuple(dict.fromkeys(t.agent_id or t.endpoint for t in targets)),
            detail={"ended_by": result.ended_by} if result.ended_by else {},
        )
