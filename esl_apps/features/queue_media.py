"""What a queued caller hears: music on hold, their place in line at intervals, and keys to leave.

Music on hold is a stream that never ends (``local_stream://moh``), so it is not chopped into
chunks: it plays until something interrupts it with ``Call.break_media`` (FreeSWITCH
``uuid_break``): the next announcement is due, an agent has been reserved for the caller, or the
caller keyed a leave key (the key itself ends the prompt of ``play_and_get_digits``). That way a free
agent is connected at once, not at the end of a chunk.

A ``Call`` without ``break_media`` (a test double, another switch) holds in steps of ``step_s``
seconds of silence instead, still collecting leave keys.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from esl_apps.aio import mark_retrieved
from esl_apps.call import Call, CallCommandError, CallHangup

Sleep = Callable[[float], Awaitable[None]]
_BREAK_RETRY_S = 0.25  # real seconds: a break sent just before the playback started is lost; resend


@dataclass(frozen=True, slots=True)
class QueuePrompts:
    """FreeSWITCH stock prompts (sounds/en/us/callie/ivr) for the position announcement."""

    position_intro: str = "ivr/ivr-you_are_number.wav"  # "You are number..."
    position_outro: str = "ivr/ivr-in_line.wav"  # "...in line"
    wait_intro: str = "ivr/ivr-estimated_hold_time.wav"  # "Your estimated hold time is..."


async def announce_place(
    call: Call,
    prompts: QueuePrompts,
    language: str,
    position: int,
    wait_s: float | None,
    cancelled: Callable[[], bool] = lambda: False,
) -> None:
    """"You are number 3 in line. Your estimated hold time is 2 minutes." (wait rounded up to a minute)."""
    if position < 1:
        return
    steps: list[Callable[[], Awaitable[Any]]] = [
        lambda: call.play(prompts.position_intro),
        lambda: call.say(language, "number", "pronounced", str(position)),
        lambda: call.play(prompts.position_outro),
    ]
    if wait_s is not None and wait_s > 0:
        seconds = max(1, int(-(-wait_s // 60))) * 60
        steps += [
            lambda: call.play(prompts.wait_intro),
            lambda: call.say(language, "time_measurement", "pronounced", str(seconds)),
        ]
    for step in steps:
        if cancelled():
            return
        await step()


def leave_key_regex(keys: str) -> str:
    return "^[" + "".join(re.escape(k) for k in keys) + "]$"


class HoldMedia:
    """Runs the caller's hold media in the background until :meth:`stop` or a leave key."""

    def __init__(
        self,
        call: Call,
        moh: str,
        *,
        every_s: float,
        leave_keys: str,
        announce: Callable[[], Awaitable[None]],
        now: Callable[[], float],
        sleep: Sleep,
        step_s: float = 5.0,
    ) -> None:
        self.call = call
        self.moh = moh
        self.every_s = every_s
        self.leave_keys = leave_keys
        self.announce = announce
        self.now = now
        self.sleep = sleep
        self.step_s = step_s
        self.can_break = callable(getattr(call, "break_media", None))
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[str | None] | None = None

    @property
    def task(self) -> asyncio.Task[str | None] | None:
        return self._task

    @property
    def stopping(self) -> bool:
        """An announcement checks this between its prompts, so a stop does not wait for all of them."""
        return self._stopping.is_set()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> asyncio.Task[str | None]:
        if self._task is None or self._task.done():
            self._stopping = asyncio.Event()
            self._task = asyncio.ensure_future(self._run())
            # a caller who hangs up while queued may leave it un-awaited (its CallHangup)
            self._task.add_done_callback(mark_retrieved)
        return self._task

    async def stop(self) -> str | None:
        """Silence the hold media now; returns a leave key keyed before the stop, raises CallHangup."""
        task, self._task = self._task, None
        if task is None:
            return None
        self._stopping.set()
        try:
            return await task
        except asyncio.CancelledError:
            return None

    # -- the loop -------------------------------------------------------------------------------
    async def _run(self) -> str | None:
        next_at = self.now() + self.every_s if self.every_s > 0 else None
        while not self._stopping.is_set():
            if next_at is not None and self.now() >= next_at:
                await self._interruptible(self.announce())
                next_at = self.now() + self.every_s
                continue
            budget = None if next_at is None else max(0.0, next_at - self.now())
            key = await self._hold(budget)
            if key:
                return key
        return None

    async def _hold(self, budget: float | None) -> str | None:
        if not self.can_break:
            step = self.step_s if budget is None else max(0.05, min(budget, self.step_s))
            if self.leave_keys:
                return self._key(await self.call.collect(
                    f"silence_stream://{int(step * 1000)}", max_digits=1, tries=1, timeout_ms=100,
                    terminators="", regex=leave_key_regex(self.leave_keys), variable="esl_apps_queue_key",
                ))
            await self.call.sleep(int(step * 1000))
            return None
        if self.leave_keys:
            media: Awaitable[Any] = self.call.collect(
                self.moh, max_digits=1, tries=1, timeout_ms=1000, terminators="",
                regex=leave_key_regex(self.leave_keys), variable="esl_apps_queue_key",
            )
        else:
            media = self.call.play(self.moh)
        result = await self._interruptible(media, budget)
        return self._key(result) if self.leave_keys else None

    def _key(self, result: Any) -> str | None:
        digits = getattr(result, "digits", "") if result is not None else ""
        return digits if digits and digits in self.leave_keys and getattr(result, "ok", False) else None

    async def _interruptible(self, media: Awaitable[Any], budget: float | None = None) -> Any:
        """Run one media step; break it when ``budget`` runs out or :meth:`stop` is called."""
        inner = asyncio.ensure_future(media)
        waits: set[asyncio.Future[Any]] = {inner, asyncio.ensure_future(self._stopping.wait())}
        if budget is not None:
            waits.add(asyncio.ensure_future(self.sleep(budget)))
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for fut in waits:
                if fut is not inner:
                    fut.cancel()
        while not inner.done():
            if self.can_break:
                with contextlib.suppress(CallCommandError, CallHangup):
                    await self.call.break_media()  # type: ignore[attr-defined]
            await asyncio.wait({inner}, timeout=_BREAK_RETRY_S)
        return inner.result()  # CallHangup from the media step propagates
