"""The ring-group engine: offers a call to a group's agents by strategy, with Redis-backed state.

Implements the flow engine's ``GroupRinger`` protocol. For each call it picks and reserves agents
atomically (``GroupPicker``), rings them through the switch-agnostic ``Call.bridge``, and records
the result on the agents: the one who answered goes on call and then into wrap-up, the ones who
did not are released and their misses counted (an unregistered phone counts as a miss, as does a
busy or rejecting one), which auto-pauses an agent after the group's limit.

- ``simultaneous`` rings every free member at once, once;
- every other strategy hunts: one agent at a time in strategy order, each for its own ring
  timeout, until someone answers, nobody free is left, or the group's ``total_timeout`` is spent.

If Redis cannot be reached when a call arrives, the call must still reach a human: the ringer
falls back to ringing every configured member at once (the engine then takes the group's overflow,
e.g. voicemail, if nobody answers). Agent bookkeeping after a bridge is best effort for the same
reason: a Redis error then is logged, never turned into a failed call.

Answer detection: ``Call.bridge`` returns when the conversation ends, so unless the Call offers an
``on_answer`` callback the ringer keeps the leases of everyone it rang alive (renewing them) until
the bridge returns: nobody is ever rung for two callers, at the cost of holding a simultaneous
ring's losers until that call ends. With ``on_answer`` the winner goes on call and the losers are
released at the moment of the answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from redis.exceptions import RedisError

from esl_apps.call import BridgeOutcome, BridgeResult, BridgeTarget, Call
from esl_apps.engine.ringer import RingContext, RingOutcome, SimultaneousRinger, outcome_from_bridge
from esl_apps.features.agents import AgentStore
from esl_apps.features.strategies import Strategy
from esl_apps.store.pick import GroupPicker

if TYPE_CHECKING:
    from esl_apps.config.pbx import RingGroup

log = logging.getLogger(__name__)

_REDIS_DOWN = (RedisError, OSError, asyncio.TimeoutError)
# Outcomes that count as the agent missing the offer (auto-pause); FAILED is the switch's problem.
_MISSES = {BridgeOutcome.NO_ANSWER, BridgeOutcome.UNREACHABLE, BridgeOutcome.BUSY, BridgeOutcome.REJECTED}

LegVars = Callable[[Call, str, str, RingContext], Mapping[str, str]]
Clock = Callable[[], float]


class RingGroupRinger:
    def __init__(
        self,
        picker: GroupPicker,
        agents: AgentStore,
        *,
        lease_margin_s: float = 10.0,
        extra_leg_vars: LegVars | None = None,
        fallback: Any = None,
        clock: Clock = time.monotonic,
    ) -> None:
        """``clock`` (monotonic seconds) is the time the call lives in: ``total_timeout`` and talk
        times are measured on it, so under a time-scaled emulator a 60 s group timeout lasts 60
        emulated seconds. Lease renewal stays on real time: leases expire on Redis's clock."""
        self.picker = picker
        self.agents = agents
        self.lease_margin_s = lease_margin_s
        self.extra_leg_vars = extra_leg_vars
        self.fallback = fallback or SimultaneousRinger()
        self.clock = clock

    async def ring(self, call: Call, group_id: str, ctx: RingContext) -> RingOutcome:
        group = ctx.pbx.ring_groups[group_id]
        if not ctx.pbx.members_of(group_id):
            return RingOutcome(status="failed", cause="NO_MEMBERS")
        try:
            return await self._hunt(call, group_id, group, ctx)
        except _RedisDown as exc:
            ctx.logger.warning(
                "ring group %s: redis unavailable (%s); ringing every member", group_id, exc.__cause__,
                extra={"call_uuid": call.uuid},
            )
            outcome = await self.fallback.ring(call, group_id, ctx)
            return RingOutcome(
                status=outcome.status, answered_by=outcome.answered_by, cause=outcome.cause,
                rang=outcome.rang, detail={**outcome.detail, "fallback": "redis_unavailable"},
            )

    async def _pick(self, group_id: str, group: RingGroup, members: Sequence[Any], **kw: Any) -> list[str]:
        try:
            return await self.picker.pick(
                group_id, group.strategy, members, reset=group.fewest_calls_reset, **kw
            )
        except _REDIS_DOWN as exc:
            raise _RedisDown() from exc

    async def _hunt(self, call: Call, group_id: str, group: RingGroup, ctx: RingContext) -> RingOutcome:
        members = ctx.pbx.members_of(group_id)
        by_agent = {m.agent: m for m in members}
        simultaneous = Strategy(group.strategy) is Strategy.SIMULTANEOUS
        deadline = None if group.total_timeout is None else self.clock() + group.total_timeout
        tried: list[str] = []  # picked for this call (never offered again in this hunt)
        rang: list[str] = []  # actually rung
        last: BridgeResult | None = None
        while True:
            remaining = None if deadline is None else deadline - self.clock()
            if remaining is not None and remaining < 1:
                break
            targets, agents = [], []
            while not targets:
                # Agents without a usable endpoint are skipped (and released) rather than rung.
                longest = max((group.member_timeout(m) + m.delay for m in members), default=0)
                lease_ms = int((min(longest, remaining or longest) + self.lease_margin_s) * 1000)
                picked = await self._pick(
                    group_id, group, members, count=None if simultaneous else 1, lease_ms=lease_ms,
                    call_uuid=call.uuid, exclude=tried,
                )
                if not picked:
                    break
                tried += picked
                targets = self._targets(call, group_id, group, ctx, picked, by_agent, remaining)
                agents = list(dict.fromkeys(t.agent_id for t in targets if t.agent_id))
                unusable = [a for a in picked if a not in agents]
                await self._best_effort(self.picker.release(unusable, call.uuid))
            if not targets:
                break
            rang += agents
            result, talk_s = await self._bridge(call, targets, agents, lease_ms)
            if result.answered:
                winner = result.answered_by if result.answered_by in agents else agents[0]
                await self._answered(call, group, winner, agents, talk_s)
                return RingOutcome(
                    status="answered", answered_by=winner, cause=result.cause, rang=tuple(rang),
                    detail={"ended_by": result.ended_by} if result.ended_by else {},
                )
            last = result
            await self._missed(call, group, agents, result)
            if simultaneous:
                break
        if not rang:
            return RingOutcome(status="busy", cause="ALL_BUSY")
        status = outcome_from_bridge(last) if last is not None else "no_answer"
        cause = last.cause if last is not None else "NO_ANSWER"
        return RingOutcome(status=status, cause=cause, rang=tuple(rang))

    def _targets(
        self,
        call: Call,
        group_id: str,
        group: RingGroup,
        ctx: RingContext,
        agents: Sequence[str],
        by_agent: Mapping[str, Any],
        remaining: float | None,
    ) -> list[BridgeTarget]:
        targets: list[BridgeTarget] = []
        for agent_id in agents:
            agent = ctx.pbx.agents_by_id.get(agent_id)
            member = by_agent.get(agent_id)
            if agent is None or member is None:
                continue
            timeout = group.member_timeout(member)
            if remaining is not None:
                timeout = max(1, min(timeout, int(remaining) - member.delay))
            leg_vars = self.leg_vars(call, group_id, group, ctx, agent_id)
            for endpoint in ctx.pbx.dial_strings(agent):
                targets.append(
                    BridgeTarget(endpoint=endpoint, timeout_s=timeout, delay_s=member.delay,
                                 agent_id=agent_id, leg_vars=leg_vars)
                )
        return targets

    def leg_vars(
        self, call: Call, group_id: str, group: RingGroup, ctx: RingContext, agent_id: str
    ) -> dict[str, str]:
        """Channel variables for the leg that rings ``agent_id``. The agent leg carries who/what it
        is for, so the wrap-up (disposition) app that it is transferred to after the caller hangs up
        can link the agent's codes to this call; any ringer that rings members (e.g. the Redis-down
        fallback) must use these too."""
        dialplan = ctx.pbx.dialplan
        leg_vars = {
            "esl_apps_agent": agent_id,
            "esl_apps_group": group_id,
            "esl_apps_customer_uuid": call.uuid,
            "transfer_after_bridge": f"{dialplan.wrapup_extension}:XML:{dialplan.internal_context}",
        }
        if group.answer_confirm:
            # FreeSWITCH plays the prompt to the agent on answer and bridges only after the key, so a
            # personal or mobile voicemail that picks up cannot take the call.
            leg_vars |= {"group_confirm_key": "1", "group_confirm_file": group.confirm_prompt}
        if self.extra_leg_vars is not None:
            leg_vars |= dict(self.extra_leg_vars(call, agent_id, group_id, ctx))
        return leg_vars

    async def _bridge(
        self, call: Call, targets: list[BridgeTarget], agents: list[str], lease_ms: int
    ) -> tuple[BridgeResult, float]:
        """Ring; keep the leases alive meanwhile; release everyone if the caller hangs up."""
        held = set(agents)
        answered_at: list[float] = []

        async def on_answer(agent_id: str | None) -> None:
            answered_at.append(self.clock())
            winner = agent_id if agent_id in held else None
            if winner is not None:
                await self._best_effort(self.picker.confirm(winner, call.uuid))
            losers = [a for a in held if a != winner]
            held.clear()
            await self._best_effort(self.picker.release(losers, call.uuid))

        async def keep_alive() -> None:
            while True:
                await asyncio.sleep(lease_ms / 3000)
                if held:
                    await self._best_effort(self.picker.renew(list(held), call.uuid, lease_ms))

        kwargs: dict[str, Any] = {}
        if "on_answer" in inspect.signature(call.bridge).parameters:
            kwargs["on_answer"] = on_answer
        heartbeat = asyncio.create_task(keep_alive())
        started = self.clock()
        try:
            result = await call.bridge(targets, simultaneous=True, **kwargs)
        except BaseException:
            await self._best_effort(self.picker.release(agents, call.uuid))
            raise
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
        ended = self.clock()
        talk_s = ended - (answered_at[0] if answered_at else started)
        return result, round(talk_s, 3)

    async def _answered(
        self, call: Call, group: RingGroup, winner: str, agents: list[str], talk_s: float
    ) -> None:
        await self._best_effort(self.picker.release([a for a in agents if a != winner], call.uuid))
        await self._best_effort(self.picker.confirm(winner, call.uuid))
        await self._best_effort(
            self.agents.call_ended(winner, talk_s=talk_s, wrapup_s=group.wrapup_seconds, call_uuid=call.uuid)
        )

    async def _missed(self, call: Call, group: RingGroup, agents: list[str], result: BridgeResult) -> None:
        if result.outcome in _MISSES:
            for agent_id in agents:
                await self._best_effort(self.agents.no_answer(agent_id, group.auto_pause_after_no_answers))
        await self._best_effort(self.picker.release(agents, call.uuid))

    @staticmethod
    async def _best_effort(awaitable: Any) -> Any:
        try:
            return await awaitable
        except _REDIS_DOWN as exc:
            log.warning("agent state not updated (redis unavailable: %s)", exc)
            return None


class _RedisDown(Exception):
    """Redis failed before anyone was rung: the caller can still be sent to every member."""
