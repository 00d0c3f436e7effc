"""The Lua pick script against the Python reference rules, on a real Redis.

Agent states are produced by the real operations (calls started and ended, pauses, logouts,
wrap-ups, reservations), then the same states are fed to ``order_members`` and to the script.
Deterministic strategies must give the same order; random ones the same distribution.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Awaitable, Callable

import pytest

from esl_apps.features.agents import AgentStore
from esl_apps.features.strategies import Strategy, next_rotation, order_members
from esl_apps.store.connect import connect
from esl_apps.store.pick import GroupPicker, MemberConfig

DETERMINISTIC = [
    Strategy.SIMULTANEOUS,
    Strategy.SEQUENTIAL,
    Strategy.ROUND_ROBIN,
    Strategy.LONGEST_IDLE,
    Strategy.FEWEST_CALLS,
]


def run(redis_url: str, body: Callable[[AgentStore, GroupPicker], Awaitable[None]]) -> None:
    async def main() -> None:
        client = connect(redis_url)
        try:
            await body(AgentStore(client), GroupPicker(client, owner_id="node-a"))
        finally:
            await client.aclose()

    asyncio.run(main())


async def scramble(
    store: AgentStore, picker: GroupPicker, group: tuple[MemberConfig, ...], seed: int
) -> None:
    """A realistic mix of states: calls taken in random order, then some agents made busy."""
    rng = random.Random(seed)
    ids = [m.agent_id for m in group]
    for agent in ids:
        await store.login(agent)
    for n in range(len(ids) * 3):
        agent = rng.choice(ids)
        await store.call_started(agent, f"warm-{n}")
        await store.call_ended(agent, talk_s=rng.randint(5, 300), wrapup_s=0)
    await picker.sync_group("g", group)
    for _ in range(rng.randint(0, 5)):  # move the round-robin pointer
        got = await picker.pick("g", Strategy.ROUND_ROBIN, group, call_uuid="rr")
        await picker.release(got, "rr")
    for agent in rng.sample(ids, len(ids) // 2):
        kind = rng.choice(["on_call", "paused", "logged_out", "wrap_up", "reserved", "short_wrap"])
        if kind == "on_call":
            await store.call_started(agent, "busy")
        elif kind == "paused":
            await store.pause(agent, "lunch")
        elif kind == "logged_out":
            await store.logout(agent)
        elif kind == "wrap_up":
            await store.call_started(agent, "wrap")
            await store.call_ended(agent, talk_s=10, wrapup_s=600)
        elif kind == "reserved":
            other = GroupPicker(picker.redis, owner_id="node-b")
            await other.pick("g", Strategy.SEQUENTIAL, group, exclude=[i for i in ids if i != agent])
        else:  # a wrap-up that has already ended counts as available
            await store.call_started(agent, "short")
            await store.call_ended(agent, talk_s=10, wrapup_s=0.001)
    await asyncio.sleep(0.01)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_lua_order_matches_python_reference(redis_url: str, seed: int) -> None:
    group = tuple(MemberConfig(f"agent-{i:02d}") for i in range(24))

    async def body(store: AgentStore, picker: GroupPicker) -> None:
        await scramble(store, picker, group, seed)
        for strategy in DETERMINISTIC:
            states = await store.list([m.agent_id for m in group])
            views = [s.member_view(position=i) for i, s in enumerate(states)]
            rotation = await picker.rotation("g")
            expected = order_members(strategy, views, rotation=rotation)
            result = await picker.pick_result("g", strategy, group, count=None, call_uuid=f"c-{strategy}")
            assert result.agents == [m.agent_id for m in expected], strategy
            assert result.rotation_after == next_rotation(strategy, expected, rotation)
            assert set(await picker.release(result.agents, f"c-{strategy}")) == set(result.agents)
            # count=2 is the head of the same order (from the same round-robin pointer)
            await picker.redis.hset(picker.keys.group("g", "meta"), "rr", rotation)
            head = await picker.pick("g", strategy, group, count=2, call_uuid="head")
            assert head == [m.agent_id for m in expected][:2]
            await picker.release(head, "head")

    run(redis_url, body)


def test_lua_weighted_random_matches_weights_on_both_sampling_paths(redis_url: str) -> None:
    # 16 members: count=1 takes the rejection-sampling path, count=None the full weighted shuffle.
    weights = [1, 2, 3, 4] * 4
    group = tuple(MemberConfig(f"w{i:02d}", weight=w) for i, w in enumerate(weights))
    total = sum(weights)

    async def body(store: AgentStore, picker: GroupPicker) -> None:
        for m in group:
            await store.login(m.agent_id)
        for count in (1, None):
            by_weight: Counter[int] = Counter()
            rounds = 3000
            for n in range(rounds):
                got = await picker.pick("g", Strategy.WEIGHTED_RANDOM, group, count=count, call_uuid=str(n))
                by_weight[weights[int(got[0][1:])]] += 1
                await picker.release(got, str(n))
            for w in (1, 2, 3, 4):
                expected = 4 * w / total
                assert abs(by_weight[w] / rounds - expected) < 0.04, (count, by_weight)

    run(redis_url, body)


def test_lua_random_is_uniform_and_returns_distinct_agents(redis_url: str) -> None:
    group = tuple(MemberConfig(f"r{i:02d}") for i in range(10))

    async def body(store: AgentStore, picker: GroupPicker) -> None:
        for m in group:
            await store.login(m.agent_id)
        await store.pause("r09", "training")
        firsts: Counter[str] = Counter()
        rounds = 2700
        for n in range(rounds):
            got = await picker.pick("g", Strategy.RANDOM, group, count=3, call_uuid=str(n))
            assert len(set(got)) == 3 and "r09" not in got
            firsts[got[0]] += 1
            await picker.release(got, str(n))
        assert set(firsts) == {f"r{i:02d}" for i in range(9)}
        for count in firsts.values():
            assert abs(count / rounds - 1 / 9) < 0.035
        everyone = await picker.pick("g", Strategy.RANDOM, group, count=None, call_uuid="all")
        assert sorted(everyone) == [f"r{i:02d}" for i in range(9)]

    run(redis_url, body)


def test_lua_weight_zero_members_are_standbys(redis_url: str) -> None:
    weights = [0, 3, 0, 1, 2, 1, 1, 1, 1, 1, 1, 1]
    group = tuple(MemberConfig(f"s{i:02d}", weight=w) for i, w in enumerate(weights))
    standbys = ["s00", "s02"]

    async def body(store: AgentStore, picker: GroupPicker) -> None:
        for m in group:
            await store.login(m.agent_id)
        for n in range(300):
            got = await picker.pick("g", Strategy.WEIGHTED_RANDOM, group, count=1, call_uuid=str(n))
            assert got[0] not in standbys
            await picker.release(got, str(n))
        everyone = await picker.pick("g", Strategy.WEIGHTED_RANDOM, group, count=None, call_uuid="all")
        assert everyone[-2:] == standbys and len(everyone) == len(group)
        await picker.release(everyone, "all")
        # with every weighted member busy, the standbys still get the call
        busy = [m.agent_id for m in group if m.weight > 0]
        for agent in busy:
            await store.call_started(agent, f"busy-{agent}")
        assert await picker.pick("g", Strategy.WEIGHTED_RANDOM, group, count=1, call_uuid="x") == ["s00"]

    run(redis_url, body)
