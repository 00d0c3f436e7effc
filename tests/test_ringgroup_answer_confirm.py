"""answer_confirm end to end: the emulator plays FreeSWITCH's group_confirm (switch_ivr_originate.c
collect_thread_run), so a phone whose voicemail picks up without pressing 1 never gets the caller."""

from __future__ import annotations

import asyncio

from esl_apps.sim import AgentBehaviour
from tests.support.ringgroup_rig import Rig, make_pbx

VOICEMAIL = AgentBehaviour(answer_after_s=0.5, confirms=False)  # a mobile's voicemail: picks up, never keys


def agent(answer_after_s: float) -> AgentBehaviour:
    return AgentBehaviour(answer_after_s=answer_after_s, talk_s=2.0, confirm_after_s=1.0)


def test_simultaneous_a_voicemail_that_picks_up_first_does_not_take_the_caller(redis_url, tmp_path) -> None:
    pbx = make_pbx({"billing": {"strategy": "simultaneous", "members": ["alice", "bob"],
                                "answer_confirm": True}})

    async def body() -> None:
        phones = {"alice": VOICEMAIL, "bob": agent(3.0)}
        async with Rig(redis_url, tmp_path, pbx, group="billing", phones=phones) as rig:
            await rig.login("alice", "bob")
            call = await rig.call(hangup_after_s=8.0)
            outcome = await rig.finished(call)
            assert outcome is not None and outcome.answered_by == "bob"
            assert sorted(rig.rings(call)) == [("alice", "lose_race"), ("bob", "answered")]
            alice = next(a for a in call.record.ring_attempts if rig.agent_of(a) == "alice")
            assert alice.picked_up_unconfirmed  # her phone answered; FreeSWITCH kept asking for the key

    asyncio.run(body())


def test_sequential_an_unconfirmed_pickup_rings_out_then_the_next_agent_is_tried(redis_url, tmp_path) -> None:
    pbx = make_pbx({"sales": {"strategy": "sequential", "members": ["alice", "bob"], "ring_timeout": 15,
                              "answer_confirm": True}})

    async def body() -> None:
        phones = {"alice": VOICEMAIL, "bob": agent(1.0)}
        async with Rig(redis_url, tmp_path, pbx, group="sales", phones=phones) as rig:
            await rig.login("alice", "bob")
            call = await rig.call(hangup_after_s=25.0)
            outcome = await rig.finished(call)
            assert outcome is not None and outcome.answered_by == "bob"
            assert rig.rings(call) == [("alice", "no_answer"), ("bob", "answered")]
            alice, bob = sorted(call.record.ring_attempts, key=lambda a: a.start)
            assert alice.picked_up_unconfirmed
            assert alice.end is not None and 14.5 <= alice.end - alice.start <= 16.0  # her 15 s, not 0.5 s
            assert not bob.picked_up_unconfirmed

    asyncio.run(body())


def test_without_answer_confirm_the_voicemail_takes_the_call(redis_url, tmp_path) -> None:
    """The reason answer_confirm exists (and proof the two tests above depend on it)."""
    pbx = make_pbx({"billing": {"strategy": "simultaneous", "members": ["alice", "bob"]}})

    async def body() -> None:
        phones = {"alice": VOICEMAIL, "bob": agent(3.0)}
        async with Rig(redis_url, tmp_path, pbx, group="billing", phones=phones) as rig:
            await rig.login("alice", "bob")
            call = await rig.call(hangup_after_s=5.0)
            outcome = await rig.finished(call)
            assert outcome is not None and outcome.answered_by == "alice"

    asyncio.run(body())
