"""The callback dialer against the emulator's inbound ESL listener (originate, uuid_bridge) and Redis."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections import Counter

import pytest

from esl_apps.config.pbx import QueueConfig
from esl_apps.features.callback_dialer import DialerOptions
from esl_apps.sim import AgentBehaviour
from tests.support.callbacks_rig import GATEWAY, CallbackRig, callback_config


def run(coro):
    return asyncio.run(coro)


def _number(n: int) -> str:
    return f"+447700{n:06d}"


async def _customers_hang_up_once_bridged(rig: CallbackRig, talk_s: float = 2.0) -> None:
    """Customers who answer hang up ``talk_s`` emulated seconds after the *bridge*.

    A talk time counted from the answer (``AgentBehaviour.talk_s``) races the dialer: at time scale
    0.01 a 20 s talk is 0.2 s of real time, and on a loaded machine ``uuid_bridge`` can come later
    than that; the customer has then hung up, and the dialer rightly retries (``customer_hung_up``),
    ringing them twice. Counting from the bridge keeps the test's "rang once" independent of load.
    """
    customers: set[str] = set()
    hanging_up: set[str] = set()
    while True:
        customers.update(a.uuid for a in rig.emu.ring_log if a.endpoint.startswith(GATEWAY))
        for uuid in customers - hanging_up:
            session = rig.emu.sessions.get(uuid)
            if session is not None and session.ch.up and session.ch.bridged_to is not None:
                hanging_up.add(uuid)
                rig.emu.clock.call_later(talk_s, rig.emu.hangup, session.ch)
        await asyncio.sleep(0.005)


def test_one_callback_rings_the_agent_first_then_the_customer_and_bridges(redis_url, tmp_path):
    async def scenario():
        async with CallbackRig(redis_url, tmp_path / "spool", callback_config(agents=1)) as rig:
            rig.customer(_number(1))
            now = int(time.time() * 1000)
            await rig.store.add(request_id="r1", number=_number(1), group="cb", arrival_ms=now,
                                call_uuid="c1")
            dialer = await rig.dialer()
            await rig.run_until_done([dialer])
            return rig, await rig.events()

    rig, events = run(scenario())
    agent_ring, customer_ring = rig.emu.ring_log[:2]
    assert agent_ring.endpoint == "user/2001@cb.test" and customer_ring.endpoint == f"{GATEWAY}/{_number(1)}"
    assert agent_ring.outcome == customer_ring.outcome == "answered"
    assert customer_ring.start >= agent_ring.end  # the customer rang only once the agent was there
    assert [(e["event"], e["outcome"], e["attempt"]) for e in events] == [
        ("attempt", "answered", 1), ("completed", "answered", 1)
    ]
    assert events[1]["request_id"] == "r1" and events[1]["call_uuid"] == "c1" and events[1]["agent"] == "a01"


@pytest.mark.slow
def test_two_dialers_500_callbacks_each_dialled_once_dnc_respected_retries(redis_url, tmp_path):
    total, blocked, silent = 500, range(0, 500, 25), range(7, 500, 25)  # 20 DNC, 20 never answer

    async def scenario():
        config = callback_config(agents=40, max_attempts=3, backoff=(0,))
        async with CallbackRig(redis_url, tmp_path / "spool", config) as rig:
            now = int(time.time() * 1000)
            for n in range(total):
                no_answer = AgentBehaviour(mode="no_answer") if n in silent else None
                rig.customer(_number(n), no_answer or AgentBehaviour(answer_after_s=1.0))
                await rig.store.add(request_id=f"r{n:03d}", number=_number(n), group="cb",
                                    arrival_ms=now - total + n)
            for n in blocked:
                await rig.dnc.add(_number(n).replace("+44", "0044 "))  # another spelling of the same number
            options = DialerOptions(poll_interval_s=0.05, max_parallel=20, customer_ring_s=20)
            dialers = [await rig.dialer(options), await rig.dialer(options)]
            hang_ups = asyncio.ensure_future(_customers_hang_up_once_bridged(rig))
            try:
                await rig.run_until_done(dialers, timeout_s=120)
            finally:
                hang_ups.cancel()
            return rig, await rig.events(), [d.stats for d in dialers]

    rig, events, stats = run(scenario())
    finals = [e for e in events if e["event"] in ("completed", "failed")]
    assert Counter(e["request_id"] for e in finals) == Counter({f"r{n:03d}": 1 for n in range(total)})
    for n in range(total):
        if n in blocked:
            assert rig.rings(_number(n)) == 0
        elif n in silent:
            assert rig.rings(_number(n)) == 3
        else:
            assert rig.rings(_number(n)) == 1, n
    outcome = {e["request_id"]: (e["event"], e["outcome"]) for e in finals}
    assert outcome["r000"] == ("failed", "dnc") and outcome["r007"] == ("failed", "no_answer")
    assert outcome["r001"] == ("completed", "answered")
    attempts = [e["attempt"] for e in events if e["event"] == "attempt" and e["request_id"] == "r007"]
    assert attempts == [1, 2, 3]
    assert all(s.completed > 0 for s in stats)  # both dialers did work
    assert sum(s.completed for s in stats) == total - len(blocked) - len(silent)


def test_a_crashed_dialers_lease_expires_and_the_request_is_dialled_once(redis_url, tmp_path):
    async def scenario():
        async with CallbackRig(redis_url, tmp_path / "spool", callback_config(agents=1)) as rig:
            rig.customer(_number(5))
            await rig.store.add(request_id="r5", number=_number(5), group="cb", arrival_ms=1)
            leased = await rig.store.claim("cb", "dead-dialer", lease_ms=300)  # then the process "dies"
            assert leased is not None and leased.request_id == "r5"
            dialer = await rig.dialer()
            await rig.run_until_done([dialer], timeout_s=20)
            return rig, await rig.events()

    rig, events = run(scenario())
    assert rig.rings(_number(5)) == 1
    assert [e["event"] for e in events] == ["attempt", "completed"]


def test_cancelled_and_out_of_hours_requests_are_not_dialled(redis_url, tmp_path):
    async def scenario():
        async with CallbackRig(redis_url, tmp_path / "spool", callback_config(agents=1)) as rig:
            rig.customer(_number(6))
            await rig.store.add(request_id="r6", number=_number(6), group="cb", arrival_ms=1)
            await rig.store.add(request_id="r7", number=_number(7), group="cb", arrival_ms=2)
            assert await rig.store.cancel("cb", "r7") == "pending"
            dialer = await rig.dialer()
            dialer.schedule = _closed_schedule()
            assert await dialer.step() == 0  # closed: nothing leased
            dialer.schedule = None
            await rig.run_until_done([dialer], timeout_s=20)
            return rig

    rig = run(scenario())
    assert rig.rings(_number(6)) == 1 and rig.rings(_number(7)) == 0


def _closed_schedule():
    from esl_apps.config.schedules import Schedule

    return Schedule.model_validate({"timezone": "UTC", "weekly": {}})


def test_requests_and_dnc_written_while_redis_was_down_are_folded_in(redis_url, tmp_path):
    """Only the (replayed) stream records exist: the dialer indexes the request and the DNC entry."""

    async def scenario():
        async with CallbackRig(redis_url, tmp_path / "spool", callback_config(agents=1)) as rig:
            for n in (8, 9):
                rig.customer(_number(n))
                await rig.records.append("callbacks", {
                    "request_id": f"r{n}", "call_uuid": f"c{n}", "number": _number(n), "group": "cb",
                    "event": "requested", "at": 1_795_000_000_000 + n, "attempt": 0, "outcome": None,
                    "arrival_ms": int(time.time() * 1000) - 1000 + n,
                })
            await rig.records.append("dnc", {"action": "add", "number": _number(9), "at": 1})
            dialer = await rig.dialer()
            await rig.run_until_done([dialer], timeout_s=20)
            return rig, await rig.events()

    rig, events = run(scenario())
    assert rig.rings(_number(8)) == 1 and rig.rings(_number(9)) == 0
    finals = {e["request_id"]: e["outcome"] for e in events if e["event"] in ("completed", "failed")}
    assert finals == {"r8": "answered", "r9": "dnc"}


def test_a_caller_waiting_in_the_groups_queue_since_earlier_goes_first(redis_url, tmp_path):
    async def scenario():
        config = callback_config(agents=1)
        pbx = config.pbx.model_copy(update={"queues": {"cbq": QueueConfig(group="cb")}})
        config = dataclasses.replace(config, pbx=pbx)
        async with CallbackRig(redis_url, tmp_path / "spool", config) as rig:
            rig.customer(_number(10))
            now = int(time.time() * 1000)
            await rig.store.add(request_id="r10", number=_number(10), group="cb", arrival_ms=now)
            await rig.client.zadd("esl:{rg:cb}:q:cbq:wait", {"waiting-caller": now - 5000})
            await rig.client.zadd("esl:{rg:cb}:q:cbq:live", {"waiting-caller": now + 60_000})
            dialer = await rig.dialer()
            assert await dialer.step() == 0
            await rig.client.zrem("esl:{rg:cb}:q:cbq:wait", "waiting-caller")  # that caller was served
            await rig.run_until_done([dialer], timeout_s=20)
            return rig

    rig = run(scenario())
    assert rig.rings(_number(10)) == 1
