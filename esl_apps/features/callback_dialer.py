"""``esl-apps callbacks run``: the service that calls customers back, agent first.

Any number of dialers may run against one Redis (on one or several hosts): they share nothing but
Redis. Each round a dialer

1. folds in records written while Redis was down (``requested`` callbacks, do-not-call changes);
2. does nothing outside the callback business hours (``callbacks.schedule``);
3. per ring group with a due request: reserves a free agent (the same atomic pick the ring groups
   use, so an agent is never offered a callback and a queue call at once), then leases the group's
   first request in original-arrival order (none if a caller still waiting in one of the group's
   queues arrived earlier: they are served first);
4. checks the number against the do-not-call list right before dialling, then runs the attempt
   (``callback_dialer_attempt``) and records its outcome in the ``callbacks`` stream: ``attempt``
   for every customer dial, then ``completed`` or, after ``callbacks.max_attempts``, ``failed``;
   a retry waits ``callbacks.retry_backoff_seconds[attempt-1]`` and then gets its place back.

A dialer that dies mid-attempt loses nothing: its lease expires and another dialer (or itself after
the restart) takes the request again. Completed, failed and cancelled requests are final in Redis,
so nothing is dialled twice by design; the one exception is a crash between the customer answering
and the outcome being written, where the lease's expiry makes the request dialled again rather
than lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from redis.exceptions import RedisError

from esl_apps.features.callback_dialer_attempt import AttemptPlan, AttemptResult, run_attempt
from esl_apps.features.callback_store import CallbackRequest, CallbackStore
from esl_apps.features.dnc import DNC_STREAM, DncList, normalise_number

if TYPE_CHECKING:
    from esl_apps.config.loader import Config
    from esl_apps.esl.inbound import InboundClient
    from esl_apps.esl.protocol import Event
    from esl_apps.features.agents import AgentStore
    from esl_apps.store.pick import GroupPicker

__all__ = ["CallbackDialer", "DialerOptions", "DialerStats"]

log = logging.getLogger(__name__)

_REDIS_DOWN = (RedisError, OSError, asyncio.TimeoutError)


@dataclass(frozen=True, slots=True)
class DialerOptions:
    poll_interval_s: float = 2.0
    max_parallel: int = 10  # attempts in flight at once in this dialer
    agent_ring_s: int | None = None  # None: the group's ring_timeout
    customer_ring_s: int = 30
    margin_s: float = 30.0  # lease slack beyond the ring times
    wrapup: bool = True  # send the agent to the wrap-up extension after the call


@dataclass
class DialerStats:
    attempts: int = 0
    completed: int = 0
    failed: int = 0
    retried: int = 0
    dnc_blocked: int = 0
    agent_no_answer: int = 0


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class _Slot:
    """One leased request with the agent reserved for it."""

    group: str
    agent: str
    customer_uuid: str
    req: CallbackRequest
    agent_ring_s: int
    lease_ms: int


class CallbackDialer:
    def __init__(
        self,
        config: Config,
        *,
        store: CallbackStore,
        dnc: DncList,
        picker: GroupPicker,
        agents: AgentStore,
        esl: InboundClient,
        records: Any,
        options: DialerOptions | None = None,
    ) -> None:
        if config.pbx.callbacks is None:
            raise ValueError("pbx.yaml has no callbacks: section (caller_id, dial_template, ...)")
        self.config = config
        self.settings = config.pbx.callbacks
        self.store = store
        self.dnc = dnc
        self.picker = picker
        self.agents = agents
        self.esl = esl
        self.records = records
        self.options = options or DialerOptions()
        self.owner = picker.owner_id
        self.stats = DialerStats()
        schedule = self.settings.schedule
        self.schedule = config.pbx.schedules.get(schedule) if schedule else None
        self._tasks: set[asyncio.Task[None]] = set()
        self._changed = asyncio.Event()
        self._calls: dict[str, tuple[str, str, float]] = {}  # customer leg -> (agent, group, bridged at)
        queues = config.pbx.queues
        self._queues = {
            gid: tuple(q for q, c in queues.items() if c.group == gid) for gid in config.pbx.ring_groups
        }

    # -- the service ----------------------------------------------------------------------------
    async def run(self, *, stop: asyncio.Event | None = None, once: bool = False) -> DialerStats:
        """Dial until ``stop`` is set (or, with ``once``, until nothing due can be dialled)."""
        stop = stop or asyncio.Event()
        self.esl.on_event(self._on_event)
        await self.esl.subscribe(["CHANNEL_HANGUP_COMPLETE"])
        while not stop.is_set():
            try:
                launched = await self.step()
            except _REDIS_DOWN as exc:
                log.warning("callback dialer: redis unavailable (%s); retrying", exc)
                launched = 0
            if once and launched == 0 and not self._tasks:
                break
            self._changed.clear()
            waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._changed.wait())]
            await asyncio.wait(waits, timeout=self.options.poll_interval_s,
                               return_when=asyncio.FIRST_COMPLETED)
            for fut in waits:
                fut.cancel()
        await self.drain()
        return self.stats

    async def drain(self, timeout_s: float | None = None) -> None:
        """Let attempts in flight finish (their outcome must be written)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout_s)

    async def step(self) -> int:
        """One round; returns how many attempts it started."""
        await self._fold_in()
        if self.schedule is not None and not self.schedule.is_open(datetime.now(UTC)):
            return 0
        if not getattr(self.esl, "connected", True):
            return 0  # FreeSWITCH is away (the client reconnects by itself): take no request meanwhile
        launched = 0
        for group_id in self.config.pbx.ring_groups:
            while len(self._tasks) < self.options.max_parallel:
                if not await self._launch_one(group_id):
                    break
                launched += 1
        return launched

    async def _fold_in(self) -> None:
        try:
            await self.dnc.sync_from(self.records.stream_key(DNC_STREAM))
            await self.store.ingest(self.records.stream_key("callbacks"))
        except _REDIS_DOWN:
            raise
        except Exception:
            log.exception("callback dialer: folding in spooled records failed")

    async def _launch_one(self, group_id: str) -> bool:
        due, _, _ = await self.store.counts(group_id)
        if not due:
            return False
        group = self.config.pbx.ring_groups[group_id]
        members = self.config.pbx.members_of(group_id)
        if not members:
            return False
        customer_uuid = str(uuid.uuid4())
        agent_ring = self.options.agent_ring_s or group.ring_timeout
        lease_ms = int((agent_ring + self.options.customer_ring_s + self.options.margin_s) * 1000)
        picked = await self.picker.pick(
            group_id, group.strategy, members, count=1, lease_ms=lease_ms, call_uuid=customer_uuid,
            reset=group.fewest_calls_reset,
        )
        if not picked:
            return False
        queues = self._queues.get(group_id, ())
        claimed = await self.store.claim(group_id, self.owner, lease_ms + 10_000, queues)
        if not isinstance(claimed, CallbackRequest):
            await self.picker.release(picked, customer_uuid)
            return False
        slot = _Slot(group_id, picked[0], customer_uuid, claimed, agent_ring, lease_ms)
        name = f"callback-{claimed.request_id}"
        task = asyncio.get_running_loop().create_task(self._attempt(slot), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return True

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._changed.set()
        if not task.cancelled() and task.exception() is not None:
            log.error("callback attempt crashed", exc_info=task.exception())

    # -- one request ----------------------------------------------------------------------------
    async def _attempt(self, slot: _Slot) -> None:
        req = slot.req
        number = normalise_number(req.number)
        try:
            blocked = await self.dnc.is_blocked(number)
        except _REDIS_DOWN as exc:
            log.warning("callback %s: do-not-call list unavailable (%s); not dialling", req.request_id, exc)
            await self._give_back(slot, "dnc_unavailable")
            return
        if blocked:
            self.stats.dnc_blocked += 1
            await _quiet(self.picker.release([slot.agent], slot.customer_uuid))
            await self._final(slot, "failed", "dnc", req.attempts)
            return
        plan = self._plan(slot, number)
        if plan is None:
            await self._give_back(slot, "no_agent_endpoint")
            return
        attempt_no: list[int] = []

        async def before_customer() -> bool:
            await self.picker.confirm(slot.agent, slot.customer_uuid)
            counted = await self.store.attempt_started(slot.group, req.request_id, self.owner, slot.lease_ms)
            if counted is None:
                return False
            attempt_no.append(counted)
            return True

        try:
            result = await run_attempt(self.esl, plan, before_customer=before_customer)
        except (ConnectionError, OSError, TimeoutError) as exc:
            log.warning("callback %s: ESL failed mid-attempt (%s)", req.request_id, exc)
            result = AttemptResult("failed" if attempt_no else "esl_unavailable", bool(attempt_no), str(exc))
        await self._outcome(slot, result, attempt_no[0] if attempt_no else None)

    def _plan(self, slot: _Slot, number: str) -> AttemptPlan | None:
        pbx = self.config.pbx
        agent = pbx.agents_by_id.get(slot.agent)
        endpoints = pbx.dial_strings(agent) if agent is not None else ()
        if not endpoints:
            return None
        wrapup = None
        if self.options.wrapup:
            wrapup = f"{pbx.dialplan.wrapup_extension}:XML:{pbx.dialplan.internal_context}"
        return AttemptPlan(
            request_id=slot.req.request_id, agent_id=slot.agent, agent_endpoints=tuple(endpoints),
            group=slot.group, number=number,
            customer_endpoint=self.settings.dial_template.replace("{number}", number),
            caller_id=self.settings.caller_id, agent_uuid=str(uuid.uuid4()),
            customer_uuid=slot.customer_uuid, agent_ring_s=slot.agent_ring_s,
            customer_ring_s=self.options.customer_ring_s, wrapup_target=wrapup,
        )

    async def _outcome(self, slot: _Slot, result: AttemptResult, attempt: int | None) -> None:
        if not result.agent_answered or attempt is None:
            if result.outcome == "agent_no_answer":
                self.stats.agent_no_answer += 1
                group = self.config.pbx.ring_groups[slot.group]
                await _quiet(self.agents.no_answer(slot.agent, group.auto_pause_after_no_answers))
            else:
                await _quiet(self.agents.call_ended(slot.agent, 0.0, 0.0, slot.customer_uuid))
            await self._give_back(slot, result.outcome)
            return
        self.stats.attempts += 1
        leg = {"agent": slot.agent, "leg": slot.customer_uuid}
        await self._record(slot.req, "attempt", attempt, result.outcome, **leg)
        if result.outcome == "answered":
            self._calls[slot.customer_uuid] = (slot.agent, slot.group, time.monotonic())
            self.stats.completed += 1
            await self._final(slot, "completed", "answered", attempt, **leg)
            return
        await _quiet(self.agents.call_ended(slot.agent, 0.0, 0.0, slot.customer_uuid))
        if attempt >= self.settings.max_attempts:
            self.stats.failed += 1
            await self._final(slot, "failed", result.outcome, attempt)
            return
        self.stats.retried += 1
        not_before = _now_ms() + self.settings.backoff_for(attempt) * 1000
        await self.store.reschedule(slot.group, slot.req.request_id, self.owner, not_before, result.outcome)

    async def _give_back(self, slot: _Slot, outcome: str) -> None:
        """Nobody was dialled: free the agent, put the request back in its place untouched."""
        await _quiet(self.picker.release([slot.agent], slot.customer_uuid))
        await _quiet(self.store.release(slot.group, slot.req.request_id, self.owner, outcome))

    async def _final(self, slot: _Slot, status: str, outcome: str, attempt: int, **extra: Any) -> None:
        before = await self.store.finish(slot.group, slot.req.request_id, self.owner, status, outcome)
        if before in ("cancelled", "completed", "failed"):
            return  # an admin cancelled it meanwhile, or someone else finished it: already recorded
        await self._record(slot.req, status, attempt, outcome, **extra)

    async def _record(self, req: CallbackRequest, event: str, attempt: int, outcome: str, *,
                      agent: str | None = None, leg: str | None = None) -> None:
        await self.records.append("callbacks", {
            "request_id": req.request_id, "call_uuid": req.call_uuid, "number": req.number,
            "group": req.group, "event": event, "at": _now_ms(), "attempt": attempt, "outcome": outcome,
            "agent": agent, "leg_uuid": leg, "dialer": self.owner,
        })

    # -- the agent's state after a completed callback -------------------------------------------
    def _on_event(self, event: Event) -> Any:
        if event.name != "CHANNEL_HANGUP_COMPLETE":
            return None
        call = self._calls.pop(event.headers.get("Unique-ID") or "", None)
        if call is None:
            return None
        agent_id, group_id, bridged_at = call
        wrapup = self.config.pbx.ring_groups[group_id].wrapup_seconds
        talk_s = round(time.monotonic() - bridged_at, 3)
        return _quiet(self.agents.call_ended(agent_id, talk_s, wrapup, event.headers.get("Unique-ID")))

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*self._tasks, return_exceptions=True)


async def _quiet(awaitable: Any) -> Any:
    try:
        return await awaitable
    except Exception as exc:
        log.warning("callback dialer: state not updated (%s)", exc)
        return None
