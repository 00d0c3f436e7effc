"""Garbage-collector policy for a process that holds thousands of live calls.

A call lives for minutes and owns a few hundred container objects (its coroutine frames, futures,
session, trace). CPython's generational collector assumes objects die young; calls don't, so every
young collection promotes the live calls' objects, the older generations fill with them, and each
generation-1 / generation-2 collection walks them all: measured 20-45 ms and 60-160 ms pauses with
2,000 calls up (scripts/bench_runtime.py --engine), during which no event is answered. That was the
whole of the event->command p99 (12-25 ms against a 5 ms goal).

Almost all of a call's objects are freed by reference counting when the call ends; the collector is
only needed for reference cycles. So after a small collection every few calls (which frees cycles
among the youngest objects cheaply) the survivors are moved to the permanent generation
(`gc.freeze()`), where no collection scans them but reference counting still frees them. A cycle that
becomes garbage after its objects were frozen waits for the next full sweep (unfreeze + full
collection): every `sweep_interval_s` under load, and sooner when the server goes idle, where a pause
delays nobody. Calls are kept free of cycles (see EslConnection.connection_lost), so what waits is
small; `gc.get_freeze_count()` shows it.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable

_LOG = logging.getLogger("esl_apps.esl.heap")

DEFAULT_PACE = 20  # admitted calls per young collection: each walks ~20 calls' newest objects (< 1.5 ms)
DEFAULT_SWEEP_INTERVAL_S = 300.0
IDLE_SWEEP_SHARE = 0.1  # on idle, sweep once this share of the interval has passed since the last


class CallHeap:
    """Collects the youngest objects every `pace` admitted calls and freezes what survives.

    `sweep_interval_s` <= 0 keeps the interpreter's own policy (no freezing, no sweeps): for
    processes that must not touch global collector state.
    """

    def __init__(
        self,
        *,
        pace: int = DEFAULT_PACE,
        sweep_interval_s: float = DEFAULT_SWEEP_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
        logger: logging.Logger | None = None,
    ) -> None:
        if pace < 1:
            raise ValueError("pace must be at least 1")
        self.pace = pace
        self.sweep_interval_s = sweep_interval_s
        self._clock = clock
        self._log = logger or _LOG
        self._admitted = 0
        self._last_sweep = clock()
        self.sweeps = 0
        self.last_sweep_pause_s = 0.0
        self.last_sweep_collected = 0

    @property
    def enabled(self) -> bool:
        return self.sweep_interval_s > 0

    def started(self) -> None:
        """Server listening: the start-up heap (modules, configuration, templates) is permanent.
        (No collection first: in a process that starts many servers, tests, it would walk the whole
        heap each time; start-up cycles wait for the first sweep.)"""
        if self.enabled:
            gc.freeze()
            self._last_sweep = self._clock()

    def call_admitted(self) -> None:
        self._admitted += 1
        if self._admitted % self.pace:
            return
        if not self.enabled:
            # The interpreter's policy, plus the young collection that keeps its pauses short.
            gc.collect(0)
            return
        if self._clock() - self._last_sweep >= self.sweep_interval_s:
            self.sweep("interval")
            return
        gc.collect(1)  # everything allocated since the last freeze: only the newest calls' objects
        gc.freeze()

    def calls_drained(self) -> None:
        """No call is up: the cheapest moment for a full sweep."""
        if self.enabled and self._clock() - self._last_sweep >= self.sweep_interval_s * IDLE_SWEEP_SHARE:
            self.sweep("idle")

    def sweep(self, reason: str) -> int:
        """Unfreeze, collect everything, freeze the survivors again; -> objects collected."""
        frozen = gc.get_freeze_count()
        started = time.perf_counter()
        gc.unfreeze()
        collected = gc.collect()
        gc.freeze()
        self.last_sweep_pause_s = time.perf_counter() - started
        self.last_sweep_collected = collected
        self.sweeps += 1
        self._last_sweep = self._clock()
        self._log.info(
            "gc sweep (%s): %d frozen objects scanned, %d collected in %.1f ms",
            reason, frozen, collected, self.last_sweep_pause_s * 1000,
        )
        return collected

    def close(self) -> None:
        """Server stopped: hand everything back to the interpreter's collector."""
        if self.enabled:
            gc.unfreeze()
