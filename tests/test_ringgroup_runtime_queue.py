"""Queueing end to end: callers wait in one Redis line shared by two OutboundServer nodes, hear
music and their place in line, can key their way out, and a dead node's callers stop blocking
the line once their lease runs out. An agent made available from anywhere (log in, unpause) is
offered to the head of the line at once, not at its next recheck."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from esl_apps.features.agents import AgentStore
from esl_apps.features.queue import QueueTiming
from esl_apps.features.queue_store import QueueStore
from esl_apps.sim import AgentBehaviour
from esl_apps.store.connect import connect
from tests.support.ringgroup_rig import Rig, make_pbx


def run(coro) -> None:  # type: ignore[no-untyped-def]
    asyncio.run(coro)


def support(members: list[str], **queue: Any) -> Any:
    return make_pbx(
        {"support": {"strategy": "longest_idle", "members": members, "queue": "support",
                     "voicemail": "sales"}},
        {"support": {"group": "support", "announce_position_every": 0, "max_wait": 600} | queue},
    )


async def wait_for(predicate, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    async def poll() -> None:
        while not await predicate():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), timeout)


async def line(rig: Rig) -> list[tuple[str, int]]:
    return await QueueStore(rig.redis).waiting(QueueStore(rig.redis).keys("support", "support"))


def test_fifo_across_two_nodes_on_one_redis(redis_url, tmp_path) -> None:
    pbx = support(["alice"])
    phones = {"alice": AgentBehaviour(answer_after_s=0.5, talk_s=4.0)}

    async def body() -> None:
        async with Rig(redis_url, tmp_path, pbx, group="support", nodes=2, phones=phones) as rig:
            await rig.login("alice")
            calls = []
            for n in range(7):  # alternate nodes: the line, not the node, decides who is next
                calls.append(await rig.call(node=n % 2))
                await asyncio.sleep(0.03)
            for call in calls:
                await rig.finished(call, 20)
            answered_at = [min(b.start for b in call.record.bridges) for call in calls]
            assert answered_at == sorted(answered_at)  # served in order of arrival
            interactions = {r["call_uuid"]: r for r in await rig.records_of("interactions")}
            assert [interactions[c.uuid]["outcome"] for c in calls] == ["answered"] * 7
            assert [interactions[c.uuid]["queue_position"] for c in calls[1:4]] == [1, 2, 3]
            assert all(interactions[c.uuid]["queue"] == "support" for c in calls)
            assert await line(rig) == []

    run(body())


def test_waiting_caller_hears_music_and_position_then_abandons(redis_url, tmp_path) -> None:
    pbx = support(["alice"], announce_position_every=5, leave_keys={"1": "voicemail"})
    phones = {"alice": AgentBehaviour(answer_after_s=0.5, talk_s=200.0)}

    async def body() -> None:
        async with Rig(redis_url, tmp_path, pbx, group="support", phones=phones) as rig:
            await rig.login("alice")
            busy = await rig.call()
            await asyncio.sleep(0.05)
            waiting = await rig.call(abandon_after_s=14.0)
            await rig.finished(waiting)
            apps = rig.caller_apps(waiting)
            moh = [arg for app, arg in apps if app == "play_and_get_digits"]
            assert moh and all("local_stream://moh" in arg and "^[1]$" in arg for arg in moh)
            assert ("playback", "ivr/ivr-you_are_number.wav") in apps
            assert ("say", "en number pronounced 1") in apps
            assert ("playback", "ivr/ivr-in_line.wav") in apps
            records = {r["call_uuid"]: r for r in await rig.records_of("interactions")}
            assert records[waiting.uuid]["outcome"] == "abandoned"
            assert records[waiting.uuid]["agents_rung"] == []
            dispositions = await rig.records_of("dispositions")
            [disposition] = [d for d in dispositions if d["call_uuid"] == waiting.uuid]
            assert disposition["codes"] == ["13"] and disposition["source"] == "system"
            assert await line(rig) == []
            busy.hangup()
            await rig.finished(busy)

    run(body())


def test_leave_key_callback_keeps_the_original_place(redis_url, tmp_path) -> None:
    pbx = support(["alice"], leave_keys={"1": "voicemail", "2": "callback"})
    phones = {"alice": AgentBehaviour(answer_after_s=0.5, talk_s=500.0)}

    async def body() -> None:
        async with Rig(redis_url, tmp_path, pbx, group="support", phones=phones) as rig:
            await rig.login("alice")
            busy = await rig.call()
            await asyncio.sleep(0.05)
            first = await rig.call()
            await asyncio.sleep(0.05)
            leaver = await rig.call(digits=["2", "1"], first_digit_after_s=3.0)
            await asyncio.sleep(0.05)
            last = await rig.call()
            await rig.finished(leaver)
            waiting = await line(rig)
            assert [uuid for uuid, _ in waiting] == [first.uuid, last.uuid]
            [request] = [r for r in await rig.records_of("callbacks") if r["event"] == "requested"]
            assert request["call_uuid"] == leaver.uuid and request["number"] == "5551000"
            assert request["queue_position"] == 2 and request["indexed"] is True
            # served in turn: after the caller who came first, before the one who came later
            assert waiting[0][1] < request["arrival_ms"] < waiting[1][1]
            callbacks = await rig.redis.zrange("esl:{rg:support}:callbacks", 0, -1, withscores=True)
            assert callbacks == [(request["request_id"], float(request["arrival_ms"]))]
            apps = rig.caller_apps(leaver)
            assert ("say", "en number iterated 5551000") in apps
            assert ("playback", "ivr/ivr-we_will_return_your_call_at_this_number.wav") in apps
            records = {r["call_uuid"]: r for r in await rig.records_of("interactions")}
            assert records[leaver.uuid]["outcome"] == "callback"
            for call in (first, last, busy):
                call.hangup()
                await rig.finished(call)

    run(body())


def test_dead_nodes_caller_stops_blocking_the_line_after_its_lease(redis_url, tmp_path) -> None:
    pbx = support(["alice"])
    phones = {"alice": AgentBehaviour(answer_after_s=0.5, talk_s=2.0)}

    async def body() -> None:
        async with Rig(redis_url, tmp_path, pbx, group="support", phones=phones) as rig:
            await rig.login("alice")
            ghost_client = connect(redis_url)
            ghost = QueueStore(ghost_client, lease_s=0.3)  # a node that dies right after its caller joined
            keys = ghost.keys("support", "support")
            await ghost.join(keys, "ghost-call", 1)
            await ghost.aclose()
            await ghost_client.aclose()
            call = await rig.call()
            assert (await rig.finished(call)).status == "answered"  # type: ignore[union-attr]
            assert await line(rig) == []

    run(body())


@pytest.mark.parametrize("change", ["unpause", "login"])
def test_a_queued_caller_is_offered_an_agent_the_moment_one_becomes_available(
    redis_url, tmp_path, change
) -> None:
    # Without a notification the head of the line would only look again after recheck_s (120 s);
    # the agent is made available from outside the node (its own Redis connection, as
    # ``esl-apps agents`` or a feature code on another node would) and rings within seconds.
    pbx = support(["alice", "bob"])
    timing = QueueTiming(recheck_s=120.0, retry_after_s=120.0)
    phones = {a: AgentBehaviour(answer_after_s=1.0, talk_s=2.0) for a in ("alice", "bob")}

    async def body() -> None:
        async with Rig(redis_url, tmp_path, pbx, group="support", phones=phones, time_scale=0.05,
                       timing=timing) as rig:
            store = await rig.login("alice")
            await store.pause("alice", "break")  # logged in, so the caller joins the line and waits
            call = await rig.call()
            await wait_for(lambda: _waiting(rig, call.uuid))
            await rig.emu.clock.sleep(5.0)  # well into the wait: the first look found nobody free
            assert rig.rings(call) == []
            outside = AgentStore(connect(rig.redis_url))
            try:
                made_available_at = rig.emu.clock.elapsed()
                if change == "unpause":
                    await outside.unpause("alice")
                else:
                    await outside.login("bob")
            finally:
                await outside.redis.aclose()
            await rig.finished(call, 20)
            [ring] = call.record.ring_attempts
            assert rig.agent_of(ring) == ("alice" if change == "unpause" else "bob")
            assert ring.start - made_available_at < 10.0  # emulated seconds; the recheck is 120
            assert rig.outcome(call).status == "answered"  # type: ignore[union-attr]

    run(body())


async def _waiting(rig: Rig, uuid: str) -> bool:
    return uuid in [u for u, _ in await line(rig)]
