"""The ring-group runtime: what happens to a call offered to a group, from arrival to the records.

``RedisGroupRinger`` is the flow engine's ``GroupRinger`` for ``ring_group`` and ``queue`` nodes:

1. closed hours (the group's ``schedule``) -> the ``closed`` overflow;
2. a group with a queue (or a ``queue`` node): the caller takes their place in the shared line and
   waits there (``queue``); only the head of the line hunts; otherwise the group is hunted at once.
   The hunt itself is ``RingGroupRinger`` (strategy, reservations, on call, wrap-up, misses and
   auto-pause), watched through ``runtime_hooks``;
3. anything but an answer -> the group's overflow chain for the condition (``overflow``):
   another group, a voicemail box or a callback offer (``callback_offer``);
4. one ``interactions`` record per group offered, plus a system disposition (``interactions``).

If Redis is unreachable the call still reaches a human or voicemail: every configured member is
rung at once, then the overflow (typically voicemail) applies, and records are spooled by the
``RecordLog``. An unregistered phone is a missed ring, never an error.

When an overflow rule (or the group's voicemail) takes the call, the call is finished here (the
caller left a message, or was told they will be called back) and the returned outcome carries
``detail["end"]`` (``voicemail`` / ``callback``); the flow's children only see conditions that have
no overflow configured.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, Any

import redis.asyncio as aioredis

from esl_apps.call import BridgeTarget, Call, CallHangup
from esl_apps.config.dispositions import Codebook
from esl_apps.config.pbx import OverflowTarget, PbxConfig, RingGroup
from esl_apps.engine.ringer import RingContext, RingOutcome, outcome_from_bridge
from esl_apps.features.agents import AgentStatus, AgentStore
from esl_apps.features.callback_offer import CallbackDesk, CallbackPrompts, offer_callback
from esl_apps.features.interactions import Interaction, write_interaction
from esl_apps.features.overflow import overflow_chain, run_overflow
from esl_apps.features.queue import QueueResult, QueueTiming, QueueWaiter
from esl_apps.features.queue_media import QueuePrompts
from esl_apps.features.queue_signals import QueueSignals
from esl_apps.features.queue_store import REDIS_DOWN, QueueStore
from esl_apps.features.recording_audit import RecordSink
from esl_apps.features.ringgroup_ringer import RingGroupRinger
from esl_apps.features.runtime_hooks import (
    DispositionHooks,
    DispositionLink,
    ObservedAgents,
    ObservedPicker,
    OfferedCall,
)
from esl_apps.store.pick import GroupPicker, default_owner_id

if TYPE_CHECKING:
    from esl_apps.config import Config

__all__ = ["RedisGroupRinger"]

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
Sleep = Callable[[float], Awaitable[None]]
_INTERACTION = {"answered": "answered", "no_answer": "no_answer", "busy": "busy", "failed": "failed"}


def _system_clock() -> datetime:
    return datetime.now(UTC)


class RedisGroupRinger:
    """One per process; ``owner_id`` names the process in agent reservations (host:pid:random)."""

    def __init__(
        self,
        redis: aioredis.Redis | None,
        records: RecordSink,
        pbx: PbxConfig | None = None,
        *,
        owner_id: str | None = None,
        clock: Clock | None = None,
        sleep: Sleep | None = None,
        codebook: Codebook | None = None,
        key_prefix: str | None = None,
        tz: tzinfo | None = None,
        queue_lease_s: float = 30.0,
        timing: QueueTiming | None = None,
        language: str = "en",
        queue_prompts: QueuePrompts | None = None,
        callback_prompts: CallbackPrompts | None = None,
        dispositions: DispositionHooks | None = None,
    ) -> None:
        """``clock``/``sleep`` are the time the call lives in (tests pass the emulator's, so a
        300 s ``max_wait`` takes 300 emulated seconds, and so does a group's ``total_timeout``);
        ``codebook`` supplies the system codes; ``dispositions`` (a ``DispositionApp``) arms the
        agents' mid-call hotkeys before a hunt and hears how each answered call ended."""
        self.redis = redis
        self.records = records
        self.pbx = pbx
        prefix = key_prefix or (pbx.redis.key_prefix if pbx is not None else "esl")
        self.owner_id = owner_id or default_owner_id()
        self.clock = clock or _system_clock
        # The hunt's durations (total_timeout, talk time) on the same clock; the real clock's
        # stand-in is monotonic, so a wall-clock step cannot cut a hunt short.
        self.seconds: Callable[[], float] = time.monotonic if clock is None else self._clock_seconds
        self.sleep = sleep or asyncio.sleep
        self.codebook = codebook
        self.language = language
        self.timing = timing or QueueTiming()
        self.queue_prompts = queue_prompts or QueuePrompts()
        self.callback_prompts = callback_prompts or CallbackPrompts()
        self.picker = GroupPicker(redis, prefix, self.owner_id, tz=tz) if redis is not None else None
        self.agents = AgentStore(redis, prefix, tz=tz) if redis is not None else None
        self.queues = QueueStore(redis, prefix, lease_s=queue_lease_s) if redis is not None else None
        self.signals = QueueSignals(redis, prefix)
        self.callbacks = CallbackDesk(redis, records, prefix)
        self.dispositions = DispositionLink(dispositions)

    @classmethod
    def from_config(cls, config: Config, redis: aioredis.Redis | None, records: RecordSink,
                    **kwargs: Any) -> RedisGroupRinger:
        """The usual wiring: system codes from dispositions.yaml, day boundaries (fewest_calls
        counts) in the first schedule's zone."""
        pbx = config.pbx
        kwargs.setdefault("tz", next(iter(pbx.schedules.values())).zone if pbx.schedules else None)
        kwargs.setdefault("codebook", config.dispositions)
        return cls(redis, records, pbx, **kwargs)

    async def aclose(self) -> None:
        await self.signals.aclose()
        if self.queues is not None:
            await self.queues.aclose()

    def _clock_seconds(self) -> float:
        return self.clock().timestamp()

    def now_ms(self) -> int:
        return int(self.clock().timestamp() * 1000)

    # -- GroupRinger ----------------------------------------------------------------------------
    async def ring(self, call: Call, group_id: str, ctx: RingContext) -> RingOutcome:
        return await self._offer(call, group_id, ctx, frozenset())

    async def _offer(
        self, call: Call, group_id: str, ctx: RingContext, visited: frozenset[str]
    ) -> RingOutcome:
        pbx: PbxConfig = ctx.pbx
        group = pbx.ring_groups[group_id]
        queue_id = self._queue_for(pbx, group_id, group, ctx)
        record = Interaction(
            call_uuid=call.uuid, group=group_id, queue=queue_id,
            did=call.variables.get("esl_apps_did") or call.destination, caller=call.caller_number,
            offered_at=self.now_ms(),
        )
        visited = visited | {group_id}
        written = False

        async def finish() -> None:
            nonlocal written
            if not written:
                written = True
                await write_interaction(self.records, record, self.codebook, self.now_ms())

        try:
            outcome, chain = await self._take(call, group_id, group, queue_id, ctx, record)
            if outcome.status == "answered" or not chain:
                record.outcome = _INTERACTION[outcome.status]  # type: ignore[assignment]
                await finish()
                return outcome

            async def to_group(other: str) -> RingOutcome:
                record.outcome, record.overflow_to = "overflow", f"group:{other}"
                await finish()  # the call leaves this group before the next one rings
                return await self._offer(call, other, dataclasses.replace(ctx, queue=None), visited)

            async def callback() -> str | None:
                request = await offer_callback(
                    call, self.callbacks, group=group_id, queue=queue_id, arrival_ms=record.offered_at,
                    queue_position=record.queue_position, now_ms=self.now_ms(), settings=pbx.callbacks,
                    language=self.language, prompts=self.callback_prompts,
                )
                return None if request is None else request.request_id

            result = await run_overflow(call, pbx, chain, ring_group=to_group, offer_callback=callback,
                                        visited=visited)
            if result is None:
                record.outcome = _INTERACTION[outcome.status]  # type: ignore[assignment]
                await finish()
                return outcome
            if result.kind == "group":
                assert result.outcome is not None
                return _with_detail(result.outcome, overflow_from=group_id)
            record.outcome, record.overflow_to = result.kind, result.target
            await finish()
            if result.kind == "callback" and not call.hung_up:
                await call.hangup("NORMAL_CLEARING")
            detail = {"overflow": result.target, "end": result.kind}
            if result.request_id:
                detail["callback_request"] = result.request_id
            return _with_detail(outcome, **detail)
        except CallHangup:
            if not written:
                record.outcome = "answered" if record.agent else "abandoned"
            await finish()
            raise

    # -- taking the call: closed, queued or hunted ----------------------------------------------
    async def _take(
        self, call: Call, group_id: str, group: RingGroup, queue_id: str | None, ctx: RingContext,
        record: Interaction,
    ) -> tuple[RingOutcome, list[OverflowTarget]]:
        pbx: PbxConfig = ctx.pbx
        schedule = pbx.schedules.get(group.schedule) if group.schedule else None
        if schedule is not None and not schedule.is_open(self.clock()):
            record.cause = "CLOSED"
            return RingOutcome("no_answer", cause="CLOSED"), overflow_chain(group, "closed")
        if queue_id is not None and self.queues is not None:
            try:
                return await self._queued(call, group_id, group, queue_id, ctx, record)
            except REDIS_DOWN as exc:
                ctx.logger.warning("queue %s: redis unavailable (%s); ringing the group without queueing",
                                   queue_id, exc, extra={"call_uuid": call.uuid})
        outcome = await self._hunt(call, group_id, ctx, record)
        condition = "all_busy" if outcome.status == "busy" else "no_answer"
        return outcome, overflow_chain(group, condition)

    async def _hunt(self, call: Call, group_id: str, ctx: RingContext, record: Interaction,
                    waiter: QueueWaiter | None = None) -> RingOutcome:
        offered = OfferedCall(
            call, now_ms=self.now_ms, before_bridge=waiter.before_bridge if waiter else _noop,
            on_rung=waiter.rung if waiter else None,
        )
        agents = ObservedAgents(self.agents, on_wrapup=self._wrapup_started) if self.agents else None
        link = _link_vars(call, record)
        await self.dispositions.arm(call, ctx.logger)
        try:
            if self.picker is None or agents is None:
                hunter = RingGroupRinger(None, None, extra_leg_vars=link, clock=self.seconds)  # type: ignore[arg-type]
                outcome = await _FallbackRinger(hunter).ring(offered, group_id, ctx)  # type: ignore[arg-type]
            else:
                picker = ObservedPicker(
                    self.picker, on_reserved=lambda _agents: waiter.on_reserved() if waiter else _noop(),
                    on_released=self._agents_freed,
                )
                hunter = RingGroupRinger(picker, agents, extra_leg_vars=link,  # type: ignore[arg-type]
                                         clock=self.seconds)
                hunter.fallback = _FallbackRinger(hunter)
                outcome = await hunter.ring(offered, group_id, ctx)  # type: ignore[arg-type]
        finally:
            record.agents_rung += offered.rung
        if outcome.status == "answered":
            record.agent = outcome.answered_by
            talk = agents.talk_s if agents is not None else None
            record.ended_at = self.now_ms()
            if offered.answered_at is not None:
                record.answered_at = offered.answered_at
            else:  # a Call without on_answer: the talk time is all we know
                record.answered_at = record.ended_at - int((talk or 0) * 1000)
            if talk is None:
                talk = round((record.ended_at - record.answered_at) / 1000, 3)
            record.talk_s = talk
            await self.dispositions.answered_call_ended(
                call, agent=outcome.answered_by, group=group_id, ended_by=outcome.detail.get("ended_by"),
                offered_at_ms=record.offered_at,
            )
        record.cause = outcome.cause
        return outcome

    async def _queued(
        self, call: Call, group_id: str, group: RingGroup, queue_id: str, ctx: RingContext,
        record: Interaction,
    ) -> tuple[RingOutcome, list[OverflowTarget]]:
        pbx: PbxConfig = ctx.pbx
        assert self.queues is not None
        members = [m.agent for m in pbx.members_of(group_id)]

        async def anyone_logged_in() -> bool:
            assert self.agents is not None
            states = await self.agents.list(members)
            return any(s.status is not AgentStatus.LOGGED_OUT for s in states)

        waiter = QueueWaiter(
            store=self.queues, signals=self.signals, keys=self.queues.keys(group_id, queue_id), call=call,
            config=pbx.queues[queue_id], arrival_ms=record.offered_at, attempt=lambda: self._hunt(
                call, group_id, ctx, record, waiter),
            anyone_logged_in=anyone_logged_in, now=lambda: self.clock().timestamp(), sleep=self.sleep,
            language=self.language, prompts=self.queue_prompts, timing=self.timing,
        )
        try:
            result = await waiter.run()
        finally:
            record.queue_position = waiter.joined_position
        return self._queue_exit(group, result, record)

    def _queue_exit(self, group: RingGroup, result: QueueResult, record: Interaction
                    ) -> tuple[RingOutcome, list[OverflowTarget]]:
        rang = result.rang
        match result.kind:
            case "answered":
                assert result.outcome is not None
                return result.outcome, []
            case "queue_full":
                record.cause = "QUEUE_FULL"
                return RingOutcome("busy", cause="QUEUE_FULL"), overflow_chain(group, "queue_full")
            case "no_agents":
                record.cause = "NO_AGENTS"
                return RingOutcome("busy", cause="NO_AGENTS", rang=rang), overflow_chain(group, "all_busy")
            case "max_wait":
                record.cause = "MAX_WAIT"
                status = result.outcome.status if result.outcome is not None else "busy"
                return RingOutcome(status, cause="MAX_WAIT", rang=rang), overflow_chain(group, "max_wait")
        record.cause = f"LEAVE_{(result.leave or '').upper()}"
        chain = [OverflowTarget(callback=True)] if result.leave == "callback" else []
        if group.voicemail:
            chain.append(OverflowTarget(voicemail=group.voicemail))
        return RingOutcome("no_answer", cause=record.cause, rang=rang), chain

    @staticmethod
    def _queue_for(pbx: PbxConfig, group_id: str, group: RingGroup, ctx: RingContext) -> str | None:
        if ctx.queue and ctx.queue in pbx.queues and pbx.queues[ctx.queue].group == group_id:
            return ctx.queue
        return group.queue if group.queue in pbx.queues else None

    # -- agent availability signals -------------------------------------------------------------
    async def _agents_freed(self, agents: list[str]) -> None:
        await self.signals.publish(self.signals.agents_channel, ",".join(agents))

    def _wrapup_started(self, agent_id: str, wrapup_s: float) -> None:
        # Nothing else says "available again" when a wrap-up simply runs out; a small margin makes
        # sure the agent reads as available by the time the queued callers look.
        self.signals.publish_later(wrapup_s + 0.05, self.signals.agents_channel, agent_id)


async def _noop() -> None:
    return None


_PLAIN = re.compile(r"[0-9A-Za-z+*#._@-]{1,64}")


def _link_vars(call: Call, record: Interaction) -> Callable[..., dict[str, str]]:
    """More for the agent leg, next to ``RingGroupRinger``'s customer uuid / agent / group: what the
    wrap-up (disposition) connection shows and stores without asking Redis (caller's number, when
    the call was offered, for the callback a disposition may schedule)."""
    extra = {"esl_apps_offered_at": str(record.offered_at)}
    if _PLAIN.fullmatch(call.caller_number or ""):  # dial-string values must stay one plain word
        extra["esl_apps_customer_number"] = call.caller_number
    return lambda *_args: extra


def _with_detail(outcome: RingOutcome, **detail: Any) -> RingOutcome:
    return dataclasses.replace(outcome, detail={**outcome.detail, **detail})


class _FallbackRinger:
    """Redis is unreachable: ring every configured member at once, each leg still carrying what the
    wrap-up (disposition) connection needs."""

    def __init__(self, hunter: RingGroupRinger) -> None:
        self.hunter = hunter

    async def ring(self, call: Call, group_id: str, ctx: RingContext) -> RingOutcome:
        pbx: PbxConfig = ctx.pbx
        group = pbx.ring_groups[group_id]
        hunter = self.hunter
        targets: list[BridgeTarget] = []
        for member in pbx.members_of(group_id):
            agent = pbx.agents_by_id.get(member.agent)
            if agent is None:
                continue
            leg_vars = hunter.leg_vars(call, group_id, group, ctx, agent.id)
            targets += [
                BridgeTarget(endpoint, group.member_timeout(member), member.delay, agent.id, leg_vars)
                for endpoint in pbx.dial_strings(agent)
            ]
        if not targets:
            return RingOutcome(status="failed", cause="NO_MEMBERS")
        result = await call.bridge(targets, simultaneous=True)
        detail = {"fallback": "redis_unavailable"}
        if result.ended_by:
            detail["ended_by"] = result.ended_by
        return RingOutcome(
            status=outcome_from_bridge(result), answered_by=result.answered_by, cause=result.cause,
            rang=tuple(dict.fromkeys(t.agent_id or t.endpoint for t in targets)),
            detail=detail,
        )

