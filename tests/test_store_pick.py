"""The atomic pick + reserve: leases, expiry, confirm/release, member-list changes, concurrency."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable

import pytest

from esl_apps.features.agents import AgentStatus, AgentStore
from esl_apps.features.strategies import Strategy
from esl_apps.store.connect import connect
from esl_apps.store.pick import GroupPicker, MemberConfig

GROUP = tuple(MemberConfig(f"a{i}") for i in range(4))


def run(redis_url: str, body: Callable[..., Awaitable[None]]) -> None:
    async def main() -> None:
        client = connect(redis_url)
        try:
            store = AgentStore(client)
            for m in GROUP:
                await store.login(m.agent_id)
            await body(store, GroupPicker(client, owner_id="node-a"), GroupPicker(client, owner_id="node-b"))
        finally:
            await client.aclose()

    asyncio.run(main())


def test_reserved_agent_is_skipped_by_every_picker(redis_url: str) -> None:
    async def body(store: AgentStore, a: GroupPicker, b: GroupPicker) -> None:
        assert await a.pick("g", "sequential", GROUP, call_uuid="c1") == ["a0"]
        assert await b.pick("g", "sequential", GROUP, call_uuid="c2") == ["a1"]
        lease = (await store.get("a0")).reserved_by
        assert lease is not None and (lease.owner, lease.call_uuid, lease.group) == ("node-a", "c1", "g")
        assert await b.pick("g", "simultaneous", GROUP, count=None, call_uuid="c3") == ["a2", "a3"]
        assert await a.pick("g", "simultaneous", GROUP, count=None, call_uuid="c4") == []

    run(redis_url, body)


def test_expired_lease_frees_the_agent(redis_url: str) -> None:
    """A process that reserved agents and died: the agents come back when the lease ends."""

    async def body(store: AgentStore, a: GroupPicker, b: GroupPicker) -> None:
        assert await a.pick("g", "simultaneous", GROUP, count=None, lease_ms=150, call_uuid="dead") == [
            m.agent_id for m in GROUP
        ]
        assert await b.pick("g", "sequential", GROUP, call_uuid="c2") == []
        await asyncio.sleep(0.2)
        state = await store.get("a0")
        assert state.free and state.reserved_by is None
        assert await b.pick("g", "sequential", GROUP, call_uuid="c2") == ["a0"]
        # the dead owner's late confirm still records the call but reports the lease was lost
        assert not await a.confirm("a1", "dead")
        assert (await store.get("a1")).status is AgentStatus.ON_CALL

    run(redis_url, body)


def test_confirm_and_release_after_simultaneous_ring(redis_url: str) -> None:
    async def body(store: AgentStore, a: GroupPicker, b: GroupPicker) -> None:
        rung = await a.pick("g", "simultaneous", GROUP, count=None, call_uuid="c1")
        assert rung == ["a0", "a1", "a2", "a3"]
        assert await a.confirm("a2", "c1")
        # another process cannot release our reservations; a wrong call uuid releases nothing
        assert await b.release(["a0", "a1", "a3"], "c1") == []
        assert await a.release(["a0", "a1", "a3"], "other-call") == []
        assert sorted(await a.release(["a0", "a1", "a3"], "c1")) == ["a0", "a1", "a3"]
        assert await b.pick("g", "simultaneous", GROUP, count=None, call_uuid="c2") == ["a0", "a1", "a3"]
        winner = await store.get("a2")
        assert winner.status is AgentStatus.ON_CALL and winner.call_uuid == "c1" and winner.calls_taken == 1

    run(redis_url, body)


def test_sequential_hunt_with_exclude_and_no_answer(redis_url: str) -> None:
    async def body(store: AgentStore, a: GroupPicker, b: GroupPicker) -> None:
        tried: list[str] = []
        for _ in GROUP:
            got = await a.pick("g", "sequential", GROUP, call_uuid="c1", exclude=tried)
            await store.no_answer(got[0], auto_pause_after=5)
            await a.release(got, "c1")
            tried += got
        assert tried == ["a0", "a1", "a2", "a3"]
        assert await a.pick("g", "sequential", GROUP, call_uuid="c1", exclude=tried) == []

    run(redis_url, body)


def test_round_robin_pointer_is_shared_by_processes(redis_url: str) -> None:
    async def body(store: AgentStore, a: GroupPicker, b: GroupPicker) -> None:
        order = []
        for n in range(8):
            picker = a if n % 2 else b
            got = await picker.pick("g", "round_robin", GROUP, call_uuid=str(n))
            order += got
            await picker.release(got, str(n))
        assert order == ["a0", "a1", "a2", "a3"] * 2
        assert await a.rotation("g") == 3

    run(redis_url, body)


def test_member_list_change_is_synced_and_removed_members_are_not_picked(redis_url: str) -> None:
    async def body(store: AgentStore, a: GroupPicker, b: GroupPicker) -> None:
        got = await a.pick("g", "simultaneous", GROUP, count=None, call_uuid="c1")
        assert got == ["a0", "a1", "a2", "a3"]
        await a.release(["a0", "a1", "a2", "a3"], "c1")
        smaller = (MemberConfig("a3"), MemberConfig("a1"))
        assert await b.pick("g", "sequential", smaller, count=None, call_uuid="c2") == ["a3", "a1"]
        await b.release(["a3", "a1"], "c2")
        # picker a still holds the old list: the script says STALE and a re-syncs its own list
        assert await a.pick("g", "sequential", GROUP, count=None, call_uuid="c3") == ["a0", "a1", "a2", "a3"]

    run(redis_url, body)


def test_bad_input_is_refused(redis_url: str) -> None:
    async def body(store: AgentStore, a: GroupPicker, b: GroupPicker) -> None:
        with pytest.raises(ValueError, match="no members"):
            await a.pick("g", "sequential", ())
        with pytest.raises(ValueError, match="twice"):
            await a.pick("g", "sequential", (MemberConfig("x"), MemberConfig("x")))
        with pytest.raises(ValueError):
            await a.pick("g", "loudest", GROUP)
        with pytest.raises(ValueError, match="weight"):
            MemberConfig("x", weight=-1)
        with pytest.raises(ValueError, match="reset"):
            await a.pick("g", "fewest_calls", GROUP, reset="hourly")
        assert await a.pick("g", "sequential", GROUP, count=0) == []

    run(redis_url, body)


def test_script_survives_a_script_flush(redis_url: str) -> None:
    async def body(store: AgentStore, a: GroupPicker, b: GroupPicker) -> None:
        assert await a.pick("g", "sequential", GROUP, call_uuid="c1") == ["a0"]
        await a.redis.script_flush()
        assert await a.pick("g", "sequential", GROUP, call_uuid="c2") == ["a1"]

    run(redis_url, body)


@pytest.mark.parametrize("strategy", list(Strategy))
def test_concurrent_picks_never_reserve_one_agent_twice(redis_url: str, strategy: Strategy) -> None:
    """1,000 simultaneous callers, two pickers sharing one loop: no agent is held by two calls."""
    group = tuple(MemberConfig(f"agent-{i:02d}", weight=1 + i % 3) for i in range(30))

    async def main() -> None:
        client = connect(redis_url)
        try:
            store = AgentStore(client)
            for m in group:
                await store.login(m.agent_id)
            pickers = [GroupPicker(client, owner_id="node-a"), GroupPicker(client, owner_id="node-b")]
            held: dict[str, str] = {}
            served = 0
            rng = random.Random(7)

            # All 1,000 start at once; at most 60 are inside the ring step together (twice the
            # agents), so every pick races others for the same agents without a retry storm.
            gate = asyncio.Semaphore(2 * len(group))

            async def caller(n: int) -> None:
                async with gate:
                    await ring(n)

            async def ring(n: int) -> None:
                nonlocal served
                picker = pickers[n % 2]
                call = f"call-{n}"
                count = 3 if strategy is Strategy.SIMULTANEOUS else 1
                while True:
                    got = await picker.pick("g", strategy, group, count=count, call_uuid=call)
                    if got:
                        break
                    await asyncio.sleep(0.002 + rng.random() * 0.004)
                for agent in got:
                    assert agent not in held, f"{agent} reserved for {held.get(agent)} and {call}"
                    held[agent] = call
                await asyncio.sleep(rng.random() * 0.002)
                for agent in got:
                    del held[agent]
                winner, others = got[0], got[1:]
                if others:
                    await picker.release(others, call)
                if n % 3:
                    assert await picker.confirm(winner, call)
                    await store.call_ended(winner, talk_s=1, wrapup_s=0, call_uuid=call)
                else:
                    await picker.release([winner], call)
                served += 1

            await asyncio.gather(*(caller(n) for n in range(1000)))
            assert served == 1000 and not held
            states = await store.list([m.agent_id for m in group])
            assert all(s.free for s in states)
            assert sum(s.calls_taken for s in states) == sum(1 for n in range(1000) if n % 3)
        finally:
            await client.aclose()

    asyncio.run(main())
