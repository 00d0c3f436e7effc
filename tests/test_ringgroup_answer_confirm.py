"""answer_confirm end to end: the emulator plays FreeSWITCH's group_confirm (switch_ivr_originate.c
collect_thread_run), so a phone whose voicemail picks up without pressing 1 never gets the caller."""

from __future__ import annotations

import asyncio
from typing import Any

from esl_apps.engine.ringer import RingOutcome
from esl_apps.sim import AgentBehaviour
from esl_apps.sim.record import RingAttempt
from tests.support.ringgroup_rig import Rig, endpoint, make_pbx

VOICEMAIL = AgentBehaviour(answer_after_s=0.5, confirms=False)  # a mobile's voicemail: picks up, never keys


def agent(answer_after_s: float) -> AgentBehaviour:
    return AgentBehaviour(answer_after_s=answer_after_s, talk_s=2.0, confirm_after_s=1.0)


def ring(redis_url: str, tmp_path: Any, group: dict[str, Any], bob: AgentBehaviour,
         hangup_after_s: float) -> tuple[Any, RingOutcome | None, list[tuple[str, str]], list[RingAttempt]]:
    """One call to `group` (members alice: a voicemail, bob); -> (call, outcome, rings, attempts in order)."""
    pbx = make_pbx({"g": {"members": ["alice", "bob"], **group}})

    async def body() -> tuple[Any, RingOutcome | None, list[tuple[str, str]], list[RingAttempt]]:
        async with Rig(redis_url, tmp_path, pbx, group="g", phones={"alice": VOICEMAIL, "bob": bob}) as rig:
            await rig.login("alice", "bob")
            call = await rig.call(hangup_after_s=hangup_after_s)
            outcome = await rig.finished(call)
            attempts = sorted(call.record.ring_attempts, key=lambda a: a.start)
            return call, outcome, rig.rings(call), attempts

    return asyncio.run(body())


def test_simultaneous_a_voicemail_that_picks_up_first_does_not_take_the_caller(redis_url, tmp_path) -> None:
    group = {"strategy": "simultaneous", "answer_confirm": True}
    _, outcome, rings, attempts = ring(redis_url, tmp_path, group, agent(3.0), 8.0)
    assert outcome is not None and outcome.answered_by == "bob"
    assert sorted(rings) == [("alice", "lose_race"), ("bob", "answered")]
    alice = next(a for a in attempts if a.endpoint == endpoint("alice"))
    assert alice.picked_up_unconfirmed  # her phone answered; FreeSWITCH kept asking for the key


def test_sequential_an_unconfirmed_pickup_rings_out_then_the_next_agent_is_tried(redis_url, tmp_path) -> None:
    group = {"strategy": "sequential", "ring_timeout": 15, "answer_confirm": True}
    _, outcome, rings, (alice, bob) = ring(redis_url, tmp_path, group, agent(1.0), 25.0)
    assert outcome is not None and outcome.answered_by == "bob"
    assert rings == [("alice", "no_answer"), ("bob", "answered")]
    assert alice.picked_up_unconfirmed
    assert alice.end is not None and 14.5 <= alice.end - alice.start <= 16.0  # her 15 s, not 0.5 s
    assert not bob.picked_up_unconfirmed


def test_without_answer_confirm_the_voicemail_takes_the_call(redis_url, tmp_path) -> None:
    """The reason answer_confirm exists (and proof the two tests above depend on it)."""
    _, outcome, _, _ = ring(redis_url, tmp_path, {"strategy": "simultaneous"}, agent(3.0), 5.0)
    assert outcome is not None and outcome.answered_by == "alice"
