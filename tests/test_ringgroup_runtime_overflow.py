"""Each overflow trigger end to end (no_answer, all_busy, closed, queue_full, max_wait, no agents
logged in): where the caller went (another group's agent, a voicemail deposit in the emulator, a
stored callback) and the records left behind (interactions, system dispositions)."""

from __future__ import annotations

import asyncio
from typing import Any

from esl_apps.sim import AgentBehaviour
from tests.support.ringgroup_rig import Rig, make_pbx


def run(coro) -> None:  # type: ignore[no-untyped-def]
    asyncio.run(coro)


async def by_call(rig: Rig, stream: str, call: Any) -> list[dict[str, Any]]:
    return [r for r in await rig.records_of(stream) if r["call_uuid"] == call.uuid]


def test_no_answer_overflows_to_another_group(redis_url, tmp_path) -> None:
    pbx = make_pbx({
        "sales": {"strategy": "sequential", "members": ["alice"], "ring_timeout": 3,
                  "overflow": [{"when": ["no_answer"], "to": {"group": "billing"}}]},
        "billing": {"strategy": "sequential", "members": ["bob"]},
    })
    phones = {"alice": AgentBehaviour(mode="no_answer"), "bob": AgentBehaviour(answer_after_s=1, talk_s=3)}

    async def body() -> None:
        async with Rig(redis_url, tmp_path, pbx, group="sales", phones=phones) as rig:
            await rig.login("alice", "bob")
            call = await rig.call()
            outcome = await rig.finished(call)
            assert outcome is not None and outcome.status == "answered" and outcome.answered_by == "bob"
            assert outcome.detail["overflow_from"] == "sales"
            assert rig.rings(call) == [("alice", "no_answer"), ("bob", "answered")]
            sales, billing = await by_call(rig, "interactions", call)
            assert (sales["group"], sales["outcome"]) == ("sales", "overflow")
            assert sales["overflow_to"] == "group:billing"
            assert (billing["group"], billing["outcome"], billing["agent"]) == ("billing", "answered", "bob")
            assert await by_call(rig, "dispositions", call) == []  # the agent keys this one

    run(body())


def test_all_busy_overflows_to_voicemail(redis_url, tmp_path) -> None:
    rules = [{"when": ["all_busy"], "to": {"voicemail": "sales"}}]
    pbx = make_pbx({"sales": {"members": ["alice"], "overflow": rules}})

    async def body() -> None:
        async with Rig(redis_url, tmp_path, pbx, group="sales") as rig:  # alice logged out: nobody free
            call = await rig.call(audio_s=4.0)
            outcome = await rig.finished(call)
            assert outcome is not None and outcome.detail["end"] == "voicemail"
            assert rig.rings(call) == []
            assert [v["user"] for v in rig.emu.voicemails] == ["8001"]
            [record] = await by_call(rig, "interactions", call)
            assert (record["outcome"], record["overflow_to"], record["cause"]) == (
                "voicemail", "voicemail:sales", "ALL_BUSY")
            [disposition] = await by_call(rig, "dispositions", call)
            assert disposition["codes"] == ["14"] and disposition["categories"] == {"outcome": "14"}

    run(body())


def test_closed_hours_overflow_without_ringing_anyone(redis_url, tmp_path) -> None:
    pbx = make_pbx(
        {"billing": {"members": ["alice"], "schedule": "never",
                     "overflow": [{"when": ["closed"], "to": {"voicemail": "billing"}}]}},
        schedules={"never": {"timezone": "UTC", "weekly": {}}},
    )

    async def body() -> None:
        async with Rig(redis_url, tmp_path, pbx, group="billing") as rig:
            await rig.login("alice")
            call = await rig.call(audio_s=4.0)
            await rig.finished(call)
            assert rig.rings(call) == []
            assert [v["user"] for v in rig.emu.voicemails] == ["8003"]
            [record] = await by_call(rig, "interactions", call)
            assert record["cause"] == "CLOSED" and record["outcome"] == "voicemail"

    run(body())


def queue_pbx(**queue: Any) -> Any:
    return make_pbx(
        {"support": {"members": ["alice"], "queue": "support", "voicemail": "sales",
                     "overflow": [{"when": ["queue_full", "max_wait"], "to": {"callback": True}}]}},
        {"support": {"group": "support", "announce_position_every": 0} | queue},
    )


def test_queue_full_offers_a_callback(redis_url, tmp_path) -> None:
    phones = {"alice": AgentBehaviour(answer_after_s=0.5, talk_s=300)}

    async def body() -> None:
        async with Rig(redis_url, tmp_path, queue_pbx(max_length=1), group="support", phones=phones) as rig:
            await rig.login("alice")
            busy = await rig.call()
            await asyncio.sleep(0.05)
            waiting = await rig.call()
            await asyncio.sleep(0.05)
            full = await rig.call(digits=["1"])  # confirms the caller ID read back to them
            outcome = await rig.finished(full)
            assert outcome is not None and outcome.cause == "QUEUE_FULL"
            assert outcome.detail["end"] == "callback"
            [request] = [r for r in await rig.records_of("callbacks") if r["call_uuid"] == full.uuid]
            assert request["number"] == "5551000" and request["queue_position"] is None
            [record] = await by_call(rig, "interactions", full)
            assert record["outcome"] == "callback" and record["overflow_to"] == "callback"
            [disposition] = await by_call(rig, "dispositions", full)
            assert disposition["codes"] == ["15"] and disposition["system_outcome"] == "callback"
            for call in (waiting, busy):
                call.hangup()
                await rig.finished(call)

    run(body())


def test_max_wait_callback_declined_falls_back_to_the_group_voicemail(redis_url, tmp_path) -> None:
    phones = {"alice": AgentBehaviour(answer_after_s=0.5, talk_s=300)}

    async def body() -> None:
        async with Rig(redis_url, tmp_path, queue_pbx(max_wait=20), group="support", phones=phones) as rig:
            await rig.login("alice")
            busy = await rig.call()
            await asyncio.sleep(0.05)
            waiting = await rig.call(digits=["2", ""], audio_s=4.0)  # "not my number", then keys nothing
            outcome = await rig.finished(waiting)
            assert outcome is not None and outcome.cause == "MAX_WAIT"
            assert outcome.detail["end"] == "voicemail"
            started = next(a.start for a in waiting.record.apps if a.app == "answer")
            collected = [a for a in waiting.record.apps if a.app == "play_and_get_digits"]
            offer = next(a for a in collected if "if_correct" in a.arg)
            assert offer.start - started >= 20  # the callback was offered after max_wait
            assert any("please_enter_the_phone_number" in a.arg for a in collected)
            assert [v["user"] for v in rig.emu.voicemails] == ["8001"]
            assert [r for r in await rig.records_of("callbacks") if r["call_uuid"] == waiting.uuid] == []
            [record] = await by_call(rig, "interactions", waiting)
            assert (record["outcome"], record["cause"]) == ("voicemail", "MAX_WAIT")
            assert record["queue_position"] == 1
            busy.hangup()
            await rig.finished(busy)

    run(body())


def test_nobody_logged_in_does_not_join_the_queue(redis_url, tmp_path) -> None:
    async def body() -> None:
        async with Rig(redis_url, tmp_path, queue_pbx(), group="support") as rig:
            call = await rig.call(digits=["1"])
            outcome = await rig.finished(call)
            assert outcome is not None and outcome.cause == "NO_AGENTS"
            assert not any(a.app == "play_and_get_digits" and "moh" in a.arg for a in call.record.apps)
            [record] = await by_call(rig, "interactions", call)
            assert record["queue_position"] is None and record["outcome"] == "voicemail"

    run(body())


def test_no_overflow_configured_leaves_the_call_to_the_flow(redis_url, tmp_path) -> None:
    pbx = make_pbx({"sales": {"strategy": "simultaneous", "members": ["alice", "bob"], "ring_timeout": 3}})
    phones = {"alice": AgentBehaviour(mode="no_answer"), "bob": AgentBehaviour(mode="no_answer")}

    async def body() -> None:
        async with Rig(redis_url, tmp_path, pbx, group="sales", phones=phones) as rig:
            await rig.login("alice", "bob")
            call = await rig.call()
            outcome = await rig.finished(call)
            assert outcome is not None and outcome.status == "no_answer" and "end" not in outcome.detail
            [record] = await by_call(rig, "interactions", call)
            assert record["outcome"] == "no_answer" and sorted(record["agents_rung"]) == ["alice", "bob"]
            [disposition] = await by_call(rig, "dispositions", call)
            assert disposition["codes"] == ["11"]

    run(body())


def test_callers_leave_the_queue_when_the_last_agent_logs_out(redis_url, tmp_path) -> None:
    async def body() -> None:
        async with Rig(redis_url, tmp_path, queue_pbx(), group="support") as rig:
            store = await rig.login("alice")
            await store.pause("alice", "meeting")  # paused still counts as logged in: the caller joins
            call = await rig.call(audio_s=4.0)
            await asyncio.sleep(0.1)
            assert [a for a in rig.caller_apps(call, "playback") if "moh" in a[1]] or rig.caller_apps(
                call, "play_and_get_digits")
            await store.logout("alice")
            outcome = await rig.finished(call)
            assert outcome is not None and outcome.cause == "NO_AGENTS"
            assert [v["user"] for v in rig.emu.voicemails] == ["8001"]
            [record] = await by_call(rig, "interactions", call)
            assert record["queue_position"] == 1 and record["outcome"] == "voicemail"

    run(body())
