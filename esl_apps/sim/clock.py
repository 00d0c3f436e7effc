"""Emulated time: every duration the emulator waits is multiplied by ``time_scale``.

Tests run a 20 s call in 0.2 s with ``time_scale=0.01``, yet the headers FreeSWITCH derives from the
clock (``Event-Date-*``, ``*_uepoch``, ``billsec``, ``record_ms``...) must still describe the
*emulated* call, so timestamps advance at ``1 / time_scale`` of the event loop's pace.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field


@dataclass
class Clock:
    time_scale: float = 1.0
    epoch_at_start: float = field(default_factory=time.time)
    _loop_start: float | None = None

    def _loop_time(self) -> float:
        loop_now = asyncio.get_running_loop().time() if _has_loop() else time.monotonic()
        if self._loop_start is None:
            self._loop_start = loop_now
        return loop_now

    def now(self) -> float:
        """Emulated wall-clock seconds since the Unix epoch."""
        elapsed = self._loop_time() - (self._loop_start or 0.0)
        scale = self.time_scale if self.time_scale > 0 else 1.0
        return self.epoch_at_start + elapsed / scale

    def elapsed(self) -> float:
        """Emulated seconds since the emulator started (used in the call records)."""
        return self.now() - self.epoch_at_start

    def uepoch(self) -> int:
        return int(self.now() * 1_000_000)

    def real(self, seconds: float) -> float:
        """Event-loop seconds for an emulated duration."""
        return max(0.0, seconds) * self.time_scale

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(self.real(seconds))

    def call_later(self, seconds: float, callback, *args) -> asyncio.TimerHandle:  # type: ignore[no-untyped-def]
        return asyncio.get_running_loop().call_later(self.real(seconds), callback, *args)


def _has_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


async def wait_for_event(event: asyncio.Event, clock: Clock, seconds: float | None) -> bool:
    """Wait until ``event`` is set or the emulated ``seconds`` pass; True when the event fired."""
    if event.is_set():
        return True
    if seconds is None:
        await event.wait()
        return True
    try:
        await asyncio.wait_for(event.wait(), clock.real(seconds))
    except TimeoutError:
        return event.is_set()
    return True
