"""A caller waiting in a queue until an agent answers, a limit is hit, or they key a way out.

The waiter is the caller's side of the shared line (``queue_store``): it joins with the caller's
original arrival time, holds them with music and announcements (``queue_media``), and only when the
caller is at the head of the line does it try to reach an agent (the ring-group hunt it is given).
Waiting is event driven (``queue_signals``), bounded by a recheck interval, never a polling loop.

Outcomes (``QueueResult.kind``):

- ``answered``: an agent took the call (the conversation is over when ``run`` returns);
- ``queue_full``: ``max_length`` callers were already waiting, the caller never joined;
- ``max_wait``: the caller waited ``max_wait`` seconds;
- ``no_agents``: nobody is logged in and ``join_when_no_agents`` is false (checked on arrival and
  while waiting, so callers do not wait for a team that went home);
- ``leave``: the caller keyed one of ``leave_keys`` (``leave`` is then voicemail or callback).

A caller who hangs up makes ``run`` raise :class:`CallHangup` (abandoned); every exit takes the
caller's place out of the line.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

from esl_apps.call import Call, CallHangup
from esl_apps.config.pbx import QueueConfig
from esl_apps.engine.ringer import RingOutcome
from esl_apps.features.queue_media import HoldMedia, QueuePrompts, announce_place
from esl_apps.features.queue_signals import QueueSignals, Sleep
from esl_apps.features.queue_store import REDIS_DOWN, Place, QueueKeys, QueueStore

QueueExit = Literal["answered", "queue_full", "max_wait", "no_agents", "leave"]


@dataclass(frozen=True, slots=True)
class QueueResult:
    kind: QueueExit
    outcome: RingOutcome | None = None  # the last hunt (answered, or the last unanswered one)
    leave: Literal["voicemail", "callback"] | None = None
    position: int | None = None  # place in line when the caller joined
    waited_s: float = 0.0
    rang: tuple[str, ...] = ()  # every agent rung while the caller waited


@dataclass(slots=True)
class QueueTiming:
    """How often a waiter re-reads the line without a signal, and how long the head waits after a
    ring nobody answered before ringing again (the agents just tried are free again at once)."""

    recheck_s: float = 3.0
    retry_after_s: float = 5.0
    hold_step_s: float = 5.0


@dataclass(slots=True)
class QueueWaiter:
    store: QueueStore
    signals: QueueSignals
    keys: QueueKeys
    call: Call
    config: QueueConfig
    arrival_ms: int
    attempt: Callable[[], Awaitable[RingOutcome]]
    anyone_logged_in: Callable[[], Awaitable[bool]]
    now: Callable[[], float]  # epoch seconds on the runtime's clock
    sleep: Sleep
    language: str = "en"
    prompts: QueuePrompts = field(default_factory=QueuePrompts)
    timing: QueueTiming = field(default_factory=QueueTiming)
    joined_position: int | None = None
    _left: bool = False  # stepped out of the line to ring an agent
    _in_line: bool = False
    _rang: list[str] = field(default_factory=list)
    _media: HoldMedia | None = None

    # -- hooks the hunt calls -------------------------------------------------------------------
    async def on_reserved(self) -> None:
        """An agent is reserved for this caller: step out so the next caller can be served."""
        if self._left or not self._in_line:
            return
        self._left = True
        with contextlib.suppress(*REDIS_DOWN):
            await self.store.leave(self.keys, self.call.uuid)
        await self.signals.publish(self.keys.wake_channel)

    async def before_bridge(self) -> None:
        """The music must stop before the agent's phone rings (one application at a time)."""
        if self._media is not None:
            await self._media.stop()

    def rung(self, agents: list[str]) -> None:
        self._rang.extend(agents)

    # -- the wait -------------------------------------------------------------------------------
    async def run(self) -> QueueResult:
        if not self.config.join_when_no_agents and not await self.anyone_logged_in():
            return QueueResult("no_agents")
        place = await self.store.join(self.keys, self.call.uuid, self.arrival_ms, self.config.max_length)
        if not place.position:
            return QueueResult("queue_full")
        self._in_line = True
        self.joined_position = place.position
        self._media = HoldMedia(
            self.call, self.config.moh, every_s=float(self.config.announce_position_every),
            leave_keys="".join(self.config.leave_keys), announce=self._announce, now=self.now,
            sleep=self.sleep, step_s=self.timing.hold_step_s,
        )
        try:
            return await self._wait(place)
        finally:
            await self._leave_line()

    async def _wait(self, place: Place) -> QueueResult:
        deadline = self.arrival_ms / 1000 + self.config.max_wait
        retry_at: float | None = None
        last: RingOutcome | None = None
        assert self._media is not None
        while True:
            head_channels = [self.keys.wake_channel, self.signals.agents_channel]
            seen = self.signals.versions(head_channels)
            place = await self._place()
            now = self.now()
            if now >= deadline:
                return self._result("max_wait", last)
            if not self.config.join_when_no_agents and not await self.anyone_logged_in():
                return self._result("no_agents", last)
            if place.is_head and (retry_at is None or now >= retry_at):
                last = await self.attempt()
                if last.status == "answered":
                    await self._learn_pace()
                    return self._result("answered", last)
                if self._left:  # back to the caller's own place, ahead of those who came later
                    self._left = False
                    await self.store.join(self.keys, self.call.uuid, self.arrival_ms, 0)
                    await self.signals.publish(self.keys.wake_channel)
                # Nobody free: wait for a signal. Rang but unanswered: those agents are free again at
                # once, so give them (and the caller) a pause before ringing again.
                retry_at = self.now() + self.timing.retry_after_s if last.rang else None
                now = self.now()
            media = self._media.start()
            if place.is_head:
                timeout = self.timing.recheck_s if retry_at is None else retry_at - now
                listen = {} if retry_at is not None else seen
            else:
                timeout = self.timing.recheck_s * 3
                listen = {self.keys.wake_channel: seen[self.keys.wake_channel]}
            waiting = asyncio.ensure_future(
                self.signals.wait(listen, max(0.0, min(timeout, deadline - now)), self.sleep)
            )
            try:
                await asyncio.wait({waiting, media}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiting.cancel()
            if media.done():
                key = await self._media.stop()  # raises CallHangup if the caller hung up
                if key:
                    return self._result("leave", last, leave=self.config.leave_keys[key])

    async def _place(self) -> Place:
        place = await self.store.check(self.keys, self.call.uuid)
        if not place.position:  # our lease lapsed (e.g. Redis was briefly away): same score, same place
            place = await self.store.join(self.keys, self.call.uuid, self.arrival_ms, 0)
        if place.purged:  # a dead node's callers were dropped: the head may have changed
            await self.signals.publish(self.keys.wake_channel)
        return place

    async def _announce(self) -> None:
        assert self._media is not None
        try:
            place = await self.store.check(self.keys, self.call.uuid)
        except REDIS_DOWN:
            return
        await announce_place(
            self.call, self.prompts, self.language, place.position, place.estimated_wait_s(),
            cancelled=lambda: self._media is None or self._media.stopping,
        )

    async def _learn_pace(self) -> None:
        waited = self.now() - self.arrival_ms / 1000
        with contextlib.suppress(*REDIS_DOWN):
            await self.store.record_wait(self.keys, waited, self.joined_position or 1)

    def _result(
        self, kind: QueueExit, last: RingOutcome | None, leave: Literal["voicemail", "callback"] | None = None
    ) -> QueueResult:
        return QueueResult(
            kind, outcome=last, leave=leave, position=self.joined_position,
            waited_s=round(max(0.0, self.now() - self.arrival_ms / 1000), 3),
            rang=tuple(dict.fromkeys(self._rang)),
        )

    async def _leave_line(self) -> None:
        """Every way out: silence the music and give the place up (best effort if Redis is away)."""
        media, self._media = self._media, None
        if media is not None:
            with contextlib.suppress(CallHangup):
                await media.stop()
        if self._in_line and not self._left:
            with contextlib.suppress(*REDIS_DOWN):
                await self.store.leave(self.keys, self.call.uuid)
            await self.signals.publish(self.keys.wake_channel)
        self._in_line = False
