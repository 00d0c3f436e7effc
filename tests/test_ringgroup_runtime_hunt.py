"""Ring-group hunting end to end: emulated FreeSWITCH over TCP -> OutboundServer -> FreeSwitchCall ->
RedisGroupRinger over real Redis. Assertions come from the emulator's ring log (which phone rang,
in what order, for how long) and from Redis (agent state, records)."""

from __future__ import annotations

import asyncio
import re

from esl_apps.features.agents import NO_ANSWER_REASON, AgentStatus, AgentStore
from esl_apps.sim import AgentBehaviour
from tests.support.ringgroup_rig import AGENTS, Rig, make_pbx


def run(coro) -> None:  # type: ignore[no-untyped-def]
    asyncio.run(coro)


def talking(seconds: float = 2.0, answer_after_s: float = 1.0) -> AgentBehaviour:
    return AgentBehaviour(answer_after_s=answer_after_s, talk_s=seconds)


def test_round_robin_visits_every_agent_once_per_cycle(redis_url, tmp_path) -> None:
    members = ["alice", "bob", "carol", "dave"]
    pbx = make_pbx({"sales": {"strategy": "round_robin", "members": members}})
    phones = {a: talking() for a in members}

    async def body() -> None:
        async with Rig(redis_url, tmp_path, pbx, group="sales", phones=phones) as rig:
            await rig.login(*members)
            for _ in range(12):
                call = await rig.call()
                await rig.finished(call)
            answered = [agent for agent, outcome in rig.rings() if outcome == "answered"]
            assert len(answered) == 12
            for cycle in range(3):
                assert sorted(answered[cycle * 4:(cycle + 1) * 4]) == sorted(members)
            assert answered[:4] == answered[4:8] == answered[8:]  # the rotation is remembered
            interactions = await rig.records_of("interactions")
            assert [r["agent"] for r in interactions] == answered
            assert all(r["outcome"] == "answered" and r["talk_s"] > 0 for r in interactions)
            assert all(r["answered_at"] >= r["offered_at"] for r in interactions)

    run(body())


def test_sequential_order_with_per_member_timeouts(redis_url, tmp_path) -> None:
    pbx = make_pbx({"sales": {
        "strategy": "sequential", "ring_timeout": 20,
        "members": [{"agent": "alice", "timeout": 4}, {"agent": "bob", "timeout": 7}, "carol"],
    }})
    phones = {
        "alice": AgentBehaviour(mode="no_answer"),
        "bob": AgentBehaviour(mode="no_answer"),
        "carol": talking(answer_after_s=2.0),
    }

    async def body() -> None:
        async with Rig(redis_url, tmp_path, pbx, group="sales", phones=phones) as rig:
            await rig.login("alice", "bob", "carol")
            call = await rig.call()
            await rig.finished(call)
            assert rig.rings(call) == [("alice", "no_answer"), ("bob", "no_answer"), ("carol", "answered")]
            alice, bob, _ = sorted(call.record.ring_attempts, key=lambda a: a.start)
            assert abs((alice.end - alice.start) - 4) < 0.5  # each member rings for its own timeout
            assert abs((bob.end - bob.start) - 7) < 0.5
            bridge = [arg for app, arg in rig.caller_apps(call, "bridge")]
            assert len(bridge) == 3 and "leg_timeout=4" in bridge[0] and "leg_timeout=7" in bridge[1]
            assert "leg_timeout=20" in bridge[2]
            assert rig.outcome(call).answered_by == "carol"  # type: ignore[union-attr]

    run(body())


def test_busy_paused_wrapup_and_logged_out_agents_are_skipped(redis_url, tmp_path) -> None:
    pbx = make_pbx({"sales": {"strategy": "sequential", "members": list(AGENTS[:5]), "wrapup_seconds": 60}})
    phones = {a: talking(seconds=30) for a in AGENTS}

    async def body() -> None:
        async with Rig(redis_url, tmp_path, pbx, group="sales", phones=phones) as rig:
            store = await rig.login("alice", "bob", "carol", "erin")  # dave logged out
            await store.pause("alice", "lunch")
            busy = await rig.call()  # bob takes it (alice paused) and stays on the call
            await asyncio.sleep(0.15)
            assert (await store.get("bob")).status is AgentStatus.ON_CALL  # on call while bridged
            first = await rig.call()  # carol: bob is busy
            await rig.finished(first)
            second = await rig.call()  # erin: carol is in wrap-up, dave logged out
            await rig.finished(second)
            await rig.finished(busy)
            assert rig.rings(busy) == [("bob", "answered")]
            assert rig.rings(first) == [("carol", "answered")]
            assert rig.rings(second) == [("erin", "answered")]
            assert (await store.get("carol")).status is AgentStatus.WRAP_UP

    run(body())


def test_wrap_up_then_available_again(redis_url, tmp_path) -> None:
    pbx = make_pbx({"sales": {"strategy": "sequential", "members": ["alice", "bob"], "wrapup_seconds": 1}})
    phones = {"alice": talking(), "bob": talking()}

    async def body() -> None:
        async with Rig(redis_url, tmp_path, pbx, group="sales", phones=phones) as rig:
            store = await rig.login("alice", "bob")
            for _ in range(2):
                call = await rig.call()
                await rig.finished(call)
            assert (await store.get("alice")).status is AgentStatus.WRAP_UP
            await asyncio.sleep(1.2)  # wrap-up is Redis time (1 s), not emulated time
            assert (await store.get("alice")).status is AgentStatus.AVAILABLE
            call = await rig.call()
            await rig.finished(call)
            assert [agent for agent, _ in rig.rings()] == ["alice", "bob", "alice"]

    run(body())


def test_auto_pause_after_consecutive_no_answers(redis_url, tmp_path) -> None:
    pbx = make_pbx({"sales": {
        "strategy": "sequential", "members": ["alice", "bob"], "ring_timeout": 3,
        "auto_pause_after_no_answers": 2,
    }})
    phones = {"alice": AgentBehaviour(mode="no_answer"), "bob": talking()}

    async def body() -> None:
        async with Rig(redis_url, tmp_path, pbx, group="sales", phones=phones) as rig:
            store = await rig.login("alice", "bob")
            for _ in range(3):
                call = await rig.call()
                await rig.finished(call)
            assert [a for a, _ in rig.rings()] == ["alice", "bob", "alice", "bob", "bob"]
            alice = await store.get("alice")
            assert alice.status is AgentStatus.PAUSED and alice.reason == NO_ANSWER_REASON
            interactions = await rig.records_of("interactions")
            assert [r["agents_rung"] for r in interactions] == [["alice", "bob"], ["alice", "bob"], ["bob"]]

    run(body())


def test_unregistered_phone_counts_as_a_miss_not_an_error(redis_url, tmp_path) -> None:
    pbx = make_pbx({"sales": {"strategy": "sequential", "members": ["alice", "bob"]}})
    phones = {"alice": AgentBehaviour(mode="unregistered"), "bob": talking()}

    async def body() -> None:
        async with Rig(redis_url, tmp_path, pbx, group="sales", phones=phones) as rig:
            store = await rig.login("alice", "bob")
            call = await rig.call()
            await rig.finished(call)
            assert rig.rings(call) == [("alice", "unregistered"), ("bob", "answered")]
            assert (await store.get("alice")).consecutive_no_answers == 1
            assert (await store.get("alice")).status is AgentStatus.AVAILABLE

    run(body())


def test_agent_legs_carry_wrapup_transfer_customer_uuid_and_answer_confirm(redis_url, tmp_path) -> None:
    pbx = make_pbx({"billing": {"strategy": "simultaneous", "members": ["alice", "bob"],
                                "answer_confirm": True}})

    async def body() -> None:
        phones = {"alice": AgentBehaviour(mode="no_answer"), "bob": AgentBehaviour(answer_after_s=1.0)}
        async with Rig(redis_url, tmp_path, pbx, group="billing", phones=phones) as rig:
            await rig.login("alice", "bob")
            call = await rig.call(hangup_after_s=4.0)  # the caller ends the call: bob goes to wrap-up
            await rig.finished(call)
            [bridge] = [arg for _, arg in rig.caller_apps(call, "bridge")]
            assert "transfer_after_bridge=7140:XML:default" in bridge
            assert f"esl_apps_customer_uuid={call.uuid}" in bridge and "esl_apps_group=billing" in bridge
            assert "group_confirm_key=1" in bridge and "group_confirm_file=" in bridge
            assert "esl_apps_customer_number=5551000" in bridge and "esl_apps_offered_at=" in bridge
            assert "[esl_apps_agent=alice" in bridge or "esl_apps_agent=alice" in bridge
            # the answering agent's leg went on to the wrap-up extension after the caller hung up
            bob_leg = next(a for a in call.record.ring_attempts if a.outcome == "answered").uuid
            assert any(a.app == "hangup" and a.leg == bob_leg for a in call.record.apps)
            assert rig.outcome(call).answered_by == "bob"  # type: ignore[union-attr]
            assert (await AgentStore(rig.redis).get("alice")).status is AgentStatus.AVAILABLE

    run(body())


def test_sequential_hunt_stops_at_total_timeout_in_emulated_time_then_overflows(redis_url, tmp_path) -> None:
    # 4 members x 30 s would be 120 s of ringing; the group allows 50 s (1 s of real time at the rig's
    # time scale, so only a hunt timed on the emulator's clock stops here).
    members = ["alice", "bob", "carol", "dave"]
    pbx = make_pbx({"sales": {"strategy": "sequential", "members": members, "ring_timeout": 30,
                              "total_timeout": 50, "voicemail": "sales"}})
    phones = {a: AgentBehaviour(mode="no_answer") for a in members}

    async def body() -> None:
        async with Rig(redis_url, tmp_path, pbx, group="sales", phones=phones) as rig:
            await rig.login(*members)
            call = await rig.call(audio_s=3.0)
            outcome = await rig.finished(call, 20)
            assert rig.rings(call) == [("alice", "no_answer"), ("bob", "no_answer")]  # carol, dave never
            first, second = (arg for _, arg in rig.caller_apps(call, "bridge"))
            assert "leg_timeout=30" in first
            bob_timeout = int(re.findall(r"leg_timeout=(\d+)", second)[0])
            assert 15 <= bob_timeout <= 20  # what was left of the 50 s, not another full 30 s
            assert outcome is not None and outcome.detail["end"] == "voicemail"  # the overflow ran
            assert [v["user"] for v in rig.emu.voicemails] == ["8001"]
            [record] = await rig.records_of("interactions")
            assert (record["outcome"], record["overflow_to"]) == ("voicemail", "voicemail:sales")
            assert record["agents_rung"] == ["alice", "bob"]

    run(body())
