"""The collector policy behind the event->command p99 (esl/heap.py): calls free themselves without the
cyclic collector, frozen survivors are never scanned by small collections, and the sweeps that free
late cycles happen on the interval and when the server is idle."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from esl_apps.commands._dispatch import CallRouter
from esl_apps.commands._runtime import call_handler
from esl_apps.engine import FlowEngine
from esl_apps.esl.heap import CallHeap
from esl_apps.esl.outbound import OutboundServer, OutboundSession
from esl_apps.sim.scripts import AgentBehaviour, CallerScript
from esl_apps.store.records import MemoryRecordLog
from tests.support.flow_harness import emulated_pbx, make_config

AT = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # Monday, office open


class Node:
    """Something that can sit in a reference cycle and be watched through a weak reference."""

    def __init__(self) -> None:
        self.other: Any = None


def cycle() -> weakref.ref[Node]:
    a, b = Node(), Node()
    a.other, b.other = b, a
    return weakref.ref(a)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    """Every test leaves the process's collector as it found it."""
    enabled = gc.isenabled()
    yield
    gc.unfreeze()
    if enabled:
        gc.enable()


# ------------------------------------------------------------------------------------ the policy


def test_a_young_cycle_is_freed_at_the_next_paced_collection_and_survivors_are_frozen() -> None:
    gc.disable()  # only the policy collects
    heap = CallHeap(pace=3, sweep_interval_s=300, clock=Clock())
    heap.started()
    garbage = cycle()
    live = Node()
    live.other = live
    heap.call_admitted()
    heap.call_admitted()
    assert garbage() is not None  # not yet: every third call
    frozen_before = gc.get_freeze_count()
    heap.call_admitted()
    assert garbage() is None
    assert gc.get_freeze_count() > frozen_before  # the live call's objects now sit out collections
    assert live.other is live


def died_after_freezing(clock: Clock) -> tuple[CallHeap, weakref.ref[Node]]:
    """A heap with one cycle that was frozen while live (a call in progress) and is garbage now."""
    gc.disable()  # only the policy collects
    heap = CallHeap(pace=1, sweep_interval_s=300, clock=clock)
    heap.started()
    holder = [Node()]
    holder[0].other = holder[0]
    late = weakref.ref(holder[0])
    heap.call_admitted()
    holder.clear()
    return heap, late


def test_a_cycle_that_dies_after_freezing_waits_for_the_interval_sweep() -> None:
    clock = Clock()
    heap, late = died_after_freezing(clock)
    clock.now += 299
    heap.call_admitted()
    gc.collect(1)
    assert late() is not None  # young collections do not scan frozen objects: the trade-off
    clock.now += 1
    heap.call_admitted()  # 300 s since the last sweep
    assert late() is None
    assert heap.sweeps == 1 and heap.last_sweep_collected >= 1


def test_an_idle_server_sweeps_once_a_tenth_of_the_interval_has_passed() -> None:
    clock = Clock()
    heap, late = died_after_freezing(clock)
    clock.now += 29
    heap.calls_drained()
    assert late() is not None and heap.sweeps == 0  # idle again within 30 s: not worth a sweep
    clock.now += 1
    heap.calls_drained()
    assert late() is None and heap.sweeps == 1


def test_interval_zero_keeps_the_interpreters_policy() -> None:
    heap = CallHeap(pace=1, sweep_interval_s=0)
    heap.started()
    for _ in range(3):
        heap.call_admitted()
    heap.calls_drained()
    assert gc.get_freeze_count() == 0 and heap.sweeps == 0


def test_close_hands_frozen_objects_back_to_the_collector() -> None:
    heap = CallHeap(pace=1)
    heap.started()
    heap.call_admitted()
    assert gc.get_freeze_count() > 0
    heap.close()
    assert gc.get_freeze_count() == 0


def test_pace_must_be_positive() -> None:
    with pytest.raises(ValueError, match="pace"):
        CallHeap(pace=0)


# --------------------------------------------------------------------- calls free themselves


async def _calls(tmp_path: Any, scripts: list[CallerScript]) -> list[weakref.ref[Any]]:
    """Serve `scripts` through the emulator and the example flows; -> weak references to each call's
    session, transport and Call object, taken while the call was up."""
    config = make_config(tmp_path)
    engine = FlowEngine(config, records=MemoryRecordLog(), clock=lambda: AT)
    inner = call_handler(CallRouter(config, engine))
    refs: list[weakref.ref[Any]] = []

    async def handler(session: OutboundSession) -> None:
        refs.append(weakref.ref(session))
        refs.append(weakref.ref(session._transport))  # type: ignore[arg-type]
        await inner(session)

    # A pace no test reaches and no sweeps: no collection runs unless a test asks for one.
    server = OutboundServer(handler, "127.0.0.1", 0, heap=CallHeap(pace=10**9, sweep_interval_s=0))
    await server.start()
    emu = await emulated_pbx(config, server.port, tmp_path, AgentBehaviour(answer_after_s=1.0, talk_s=5.0))
    try:
        for script in scripts:
            call = await emu.place_call("+442071234567", caller_number="+441632960001", script=script)
            await call.wait_done(30)
        for _ in range(100):  # the sessions' last events and exit
            if server.active_calls == 0:
                break
            await asyncio.sleep(0.02)
        assert server.active_calls == 0
    finally:
        await emu.stop()
        await server.stop(1)
        await engine.close()
    return refs


def test_finished_calls_are_freed_by_reference_counting_alone(tmp_path) -> None:
    """With the collector off, every call's session and transport are gone once it ends: nothing a
    call leaves behind needs the full sweep (a cycle here would sit, frozen, until the next one)."""
    scripts = [
        CallerScript(digits=("1", "1")),  # consents, sales, talks to an agent
        CallerScript(hangup_during="play_and_get_digits"),  # gives up at the recording notice
        CallerScript(digits=("1",), hangup_after_s=3.0),  # hangs up in the main menu
    ]
    gc.collect()
    gc.disable()
    refs = asyncio.run(_calls(tmp_path, scripts))
    assert len(refs) == 2 * len(scripts)
    alive = [type(r()).__name__ for r in refs if r() is not None]
    assert alive == []
