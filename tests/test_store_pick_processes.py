"""Two OS processes picking for one group at once never hold the same agent together.

Each process is a separate Python interpreter with its own connections, like two ``esl-apps serve``
nodes. Between reserving an agent and releasing it, a process holds a witness key
``test:held:<agent>`` set with NX: if the pick ever handed an agent to two callers at once, the
second witness write fails and is counted.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import random
from typing import Any

from esl_apps.features.agents import AgentStore
from esl_apps.features.strategies import Strategy
from esl_apps.store.connect import connect
from esl_apps.store.pick import GroupPicker, MemberConfig

GROUP = tuple(MemberConfig(f"agent-{i:02d}") for i in range(24))
CALLS_PER_PROCESS = 500
STRATEGIES = [Strategy.ROUND_ROBIN, Strategy.LONGEST_IDLE, Strategy.SIMULTANEOUS]


async def _serve(redis_url: str, node: str, start: Any) -> dict[str, int]:
    client = connect(redis_url)
    picker = GroupPicker(client, owner_id=node)
    store = AgentStore(client)
    rng = random.Random(node)
    gate = asyncio.Semaphore(2 * len(GROUP))
    tally = {"served": 0, "collisions": 0, "empty_picks": 0}
    await picker.sync_group("g", GROUP)
    await asyncio.to_thread(start.wait)

    async def ring(n: int) -> None:
        call = f"{node}-{n}"
        strategy = STRATEGIES[n % len(STRATEGIES)]
        count = 3 if strategy is Strategy.SIMULTANEOUS else 1
        while True:
            got = await picker.pick("g", strategy, GROUP, count=count, call_uuid=call)
            if got:
                break
            tally["empty_picks"] += 1
            await asyncio.sleep(0.002 + rng.random() * 0.004)
        for agent in got:
            if not await client.set(f"test:held:{agent}", call, nx=True):
                tally["collisions"] += 1
        await asyncio.sleep(rng.random() * 0.002)
        for agent in got:
            if await client.get(f"test:held:{agent}") == call:
                await client.delete(f"test:held:{agent}")
        if n % 2:
            await picker.release(got[1:], call)
            await picker.confirm(got[0], call)
            await store.call_ended(got[0], talk_s=1, wrapup_s=0, call_uuid=call)
        else:
            await picker.release(got, call)
        tally["served"] += 1

    async def caller(n: int) -> None:
        async with gate:
            await ring(n)

    try:
        await asyncio.gather(*(caller(n) for n in range(CALLS_PER_PROCESS)))
    finally:
        await client.aclose()
    return tally


def _node(redis_url: str, node: str, start: Any, out: multiprocessing.Queue) -> None:
    out.put((node, asyncio.run(_serve(redis_url, node, start))))


def test_two_processes_never_reserve_the_same_agent(redis_url: str) -> None:
    async def login_all() -> None:
        client = connect(redis_url)
        store = AgentStore(client)
        for m in GROUP:
            await store.login(m.agent_id)
        await client.aclose()

    asyncio.run(login_all())
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    out: multiprocessing.Queue = ctx.Queue()
    procs = [ctx.Process(target=_node, args=(redis_url, f"node-{i}", start, out)) for i in range(2)]
    for p in procs:
        p.start()
    start.set()  # both processes begin their 500 calls together
    results = dict(out.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    assert all(r["collisions"] == 0 for r in results.values()), results
    assert sum(r["served"] for r in results.values()) == 2 * CALLS_PER_PROCESS
    # the processes really competed: some picks found every agent taken
    assert sum(r["empty_picks"] for r in results.values()) > 0

    async def final_states() -> None:
        client = connect(redis_url)
        states = await AgentStore(client).list([m.agent_id for m in GROUP])
        await client.aclose()
        assert all(s.free for s in states)
        assert sum(s.calls_taken for s in states) == CALLS_PER_PROCESS  # the odd calls of both nodes

    asyncio.run(final_states())
