"""The ring-group engine over real Redis state, with a scripted Call standing in for the switch.

The scripted call plays the agents' phones (answer, no answer, busy, unregistered) and records
every ring attempt, so the tests assert which agent rang, in what order, and the agent state left
behind (on call -> wrap-up, misses counted, auto-pause, nobody left reserved).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import pytest

from esl_apps.call import BridgeOutcome, BridgeResult, BridgeTarget, CallHangup
from esl_apps.config.pbx import PbxConfig
from esl_apps.engine.ringer import RingContext
from esl_apps.features.agents import NO_ANSWER_REASON, AgentStatus, AgentStore
from esl_apps.features.ringgroup_ringer import RingGroupRinger
from esl_apps.store.connect import connect
from esl_apps.store.pick import GroupPicker
from tests.support.redis_server import free_port

AGENTS = ["alice", "bob", "carol", "dave"]


def pbx(**group: Any) -> PbxConfig:
    settings = {"name": "Sales", "members": AGENTS, "ring_timeout": 15, "total_timeout": 90,
                "wrapup_seconds": 30} | group
    return PbxConfig.model_validate({
        "domain": "pbx.example.com",
        "esl": {"password_env": "ESL_APPS_ESL_PASSWORD"},
        "agents": [
            {"id": a, "name": a.title(), "extension": f"10{n:02d}",
             "endpoints": [f"user/10{n:02d}@${{domain}}"]}
            for n, a in enumerate(AGENTS)
        ],
        "ring_groups": {"sales": settings},
    })


class ScriptedCall:
    """A caller whose bridge outcome is decided by each agent's scripted phone behaviour."""

    def __init__(self, uuid: str, phones: Mapping[str, str], talk_s: float = 0.0,
                 during: Callable[[list[str]], Awaitable[None]] | None = None,
                 hang_up_while_ringing: bool = False) -> None:
        self.uuid = uuid
        self.phones = phones
        self.talk_s = talk_s
        self.during = during
        self.hang_up_while_ringing = hang_up_while_ringing
        self.rings: list[list[str]] = []
        self.legs: list[BridgeTarget] = []

    async def _ring(self, targets: Sequence[BridgeTarget], on_answer: Any) -> BridgeResult:
        agents = [t.agent_id or "" for t in targets]
        self.rings.append(agents)
        self.legs += targets
        if self.during is not None:
            await self.during(agents)
        if self.hang_up_while_ringing:
            raise CallHangup("ORIGINATOR_CANCEL")
        winner = next((a for a in agents if self.phones.get(a) == "answer"), None)
        if winner is not None:
            if on_answer is not None:
                await on_answer(winner)
            await asyncio.sleep(self.talk_s)
            return BridgeResult(BridgeOutcome.ANSWERED, "SUCCESS", answered_by=winner, ended_by="caller")
        kinds = {self.phones.get(a, "no_answer") for a in agents}
        if kinds == {"busy"}:
            return BridgeResult(BridgeOutcome.BUSY, "USER_BUSY")
        if kinds == {"unregistered"}:
            return BridgeResult(BridgeOutcome.UNREACHABLE, "USER_NOT_REGISTERED")
        return BridgeResult(BridgeOutcome.NO_ANSWER, "ALLOTTED_TIMEOUT")

    async def bridge(self, targets: Sequence[BridgeTarget], *, simultaneous: bool = True,
                     call_vars: Mapping[str, str] | None = None) -> BridgeResult:
        return await self._ring(targets, None)


class AnswerAwareCall(ScriptedCall):
    """A Call whose bridge reports the answer as it happens (the optional ``on_answer`` hook)."""

    async def bridge(self, targets: Sequence[BridgeTarget], *, simultaneous: bool = True,
                     call_vars: Mapping[str, str] | None = None, on_answer: Any = None) -> BridgeResult:
        return await self._ring(targets, on_answer)


def run(
    redis_url: str, config: PbxConfig, body: Callable[..., Awaitable[None]], url: str | None = None
) -> None:
    async def main() -> None:
        client = connect(redis_url)
        try:
            store = AgentStore(client)
            for agent in AGENTS:
                await store.login(agent)
            bad = connect(url) if url else client
            ringer = RingGroupRinger(GroupPicker(bad, owner_id="node-a"), AgentStore(bad))
            ctx = RingContext(pbx=config, flow="main", node="sales", variables={},
                              logger=logging.getLogger("test"))
            await body(ringer, ctx, store)
            if url:
                await bad.aclose()
        finally:
            await client.aclose()

    asyncio.run(main())


def test_round_robin_rings_the_next_agent_each_call_then_wrap_up(redis_url: str) -> None:
    async def body(ringer: RingGroupRinger, ctx: RingContext, store: AgentStore) -> None:
        answered = []
        for n in range(6):
            call = ScriptedCall(f"call-{n}", dict.fromkeys(AGENTS, "answer"))
            outcome = await ringer.ring(call, "sales", ctx)
            assert outcome.status == "answered" and call.rings == [[outcome.answered_by]]
            answered.append(outcome.answered_by)
            state = await store.get(outcome.answered_by)
            assert state.status is AgentStatus.WRAP_UP and state.calls_taken >= 1
            await store.wrapup_done(outcome.answered_by)
        assert answered == ["alice", "bob", "carol", "dave", "alice", "bob"]
        leg = call.legs[0]
        assert leg.timeout_s == 15 and leg.endpoint == "user/1001@pbx.example.com"
        assert leg.leg_vars["esl_apps_customer_uuid"] == "call-5"
        assert leg.leg_vars["transfer_after_bridge"] == "7140:XML:default"
        assert "group_confirm_key" not in leg.leg_vars

    run(redis_url, pbx(strategy="round_robin"), body)


def test_sequential_hunt_counts_misses_and_skips_busy_agents(redis_url: str) -> None:
    async def body(ringer: RingGroupRinger, ctx: RingContext, store: AgentStore) -> None:
        await store.call_started("bob", "other-call")  # busy for this group: never rung
        phones = {"alice": "no_answer", "carol": "unregistered", "dave": "answer"}
        call = ScriptedCall("c1", phones)
        outcome = await ringer.ring(call, "sales", ctx)
        assert call.rings == [["alice"], ["carol"], ["dave"]]
        assert (outcome.status, outcome.answered_by) == ("answered", "dave")
        assert outcome.rang == ("alice", "carol", "dave")
        for agent in ("alice", "carol"):
            state = await store.get(agent)
            assert state.free and state.consecutive_no_answers == 1
        assert (await store.get("dave")).status is AgentStatus.WRAP_UP

    run(redis_url, pbx(strategy="sequential"), body)


def test_auto_pause_after_missed_calls_and_no_answer_outcome(redis_url: str) -> None:
    async def body(ringer: RingGroupRinger, ctx: RingContext, store: AgentStore) -> None:
        for agent in ("bob", "carol", "dave"):
            await store.pause(agent, "lunch")
        for n in range(2):
            call = ScriptedCall(f"c{n}", {"alice": "no_answer"})
            outcome = await ringer.ring(call, "sales", ctx)
            assert (outcome.status, outcome.rang) == ("no_answer", ("alice",))
        state = await store.get("alice")
        assert (state.status, state.reason) == (AgentStatus.PAUSED, NO_ANSWER_REASON)
        call = ScriptedCall("c3", {"alice": "answer"})
        outcome = await ringer.ring(call, "sales", ctx)
        assert (outcome.status, outcome.cause, call.rings) == ("busy", "ALL_BUSY", [])

    run(redis_url, pbx(strategy="longest_idle", auto_pause_after_no_answers=2), body)


def test_simultaneous_rings_every_free_member_once_with_answer_confirm(redis_url: str) -> None:
    async def body(ringer: RingGroupRinger, ctx: RingContext, store: AgentStore) -> None:
        await store.pause("alice", "lunch")
        reserved_during_ring: list[bool] = []

        async def during(agents: list[str]) -> None:
            states = await store.list(agents)
            reserved_during_ring.extend(s.reserved_by is not None for s in states)

        call = ScriptedCall("c1", {"carol": "answer"}, during=during)
        outcome = await ringer.ring(call, "sales", ctx)
        assert call.rings == [["bob", "carol", "dave"]] and reserved_during_ring == [True] * 3
        assert (outcome.status, outcome.answered_by) == ("answered", "carol")
        assert all(t.leg_vars["group_confirm_key"] == "1" for t in call.legs)
        states = {s.agent_id: s for s in await store.list(AGENTS)}
        assert states["bob"].free and states["dave"].free and states["carol"].status is AgentStatus.WRAP_UP
        # nobody answers: one round only, misses counted
        call = ScriptedCall("c2", {})
        outcome = await ringer.ring(call, "sales", ctx)
        assert outcome.status == "no_answer" and call.rings == [["bob", "dave"]]

    run(redis_url, pbx(strategy="simultaneous", answer_confirm=True), body)


def test_answer_hook_releases_losers_while_the_winner_talks(redis_url: str) -> None:
    async def body(ringer: RingGroupRinger, ctx: RingContext, store: AgentStore) -> None:
        first = AnswerAwareCall("c1", {"bob": "answer"}, talk_s=0.3)
        task = asyncio.create_task(ringer.ring(first, "sales", ctx))
        await asyncio.sleep(0.1)  # c1 is now talking to bob
        states = {s.agent_id: s for s in await store.list(AGENTS)}
        assert states["bob"].status is AgentStatus.ON_CALL
        assert all(states[a].free for a in ("alice", "carol", "dave"))
        second = AnswerAwareCall("c2", {"alice": "answer"})
        assert (await ringer.ring(second, "sales", ctx)).answered_by == "alice"
        assert second.rings == [["alice", "carol", "dave"]]
        assert (await task).answered_by == "bob"

    run(redis_url, pbx(strategy="simultaneous"), body)


def test_without_answer_hook_everyone_rung_stays_reserved_until_the_call_ends(redis_url: str) -> None:
    async def body(ringer: RingGroupRinger, ctx: RingContext, store: AgentStore) -> None:
        first = ScriptedCall("c1", {"bob": "answer"}, talk_s=0.3)
        task = asyncio.create_task(ringer.ring(first, "sales", ctx))
        await asyncio.sleep(0.1)
        second = ScriptedCall("c2", dict.fromkeys(AGENTS, "answer"))
        assert (await ringer.ring(second, "sales", ctx)).status == "busy"  # no double ring
        assert (await task).answered_by == "bob"
        assert (await store.get("alice")).free

    run(redis_url, pbx(strategy="simultaneous"), body)


def test_caller_hangup_while_ringing_releases_the_agents(redis_url: str) -> None:
    async def body(ringer: RingGroupRinger, ctx: RingContext, store: AgentStore) -> None:
        call = ScriptedCall("c1", {}, hang_up_while_ringing=True)
        with pytest.raises(CallHangup):
            await ringer.ring(call, "sales", ctx)
        assert all(s.free and s.consecutive_no_answers == 0 for s in await store.list(AGENTS))

    run(redis_url, pbx(strategy="simultaneous"), body)


def test_redis_unreachable_rings_every_configured_member(redis_url: str) -> None:
    async def body(ringer: RingGroupRinger, ctx: RingContext, store: AgentStore) -> None:
        call = ScriptedCall("c1", {"dave": "answer"})
        outcome = await ringer.ring(call, "sales", ctx)
        assert call.rings == [AGENTS]
        assert (outcome.status, outcome.answered_by) == ("answered", "dave")
        assert outcome.detail["fallback"] == "redis_unavailable"

    run(redis_url, pbx(strategy="round_robin"), body, url=f"redis://127.0.0.1:{free_port()}/0")


def test_total_timeout_ends_the_hunt(redis_url: str) -> None:
    async def body(ringer: RingGroupRinger, ctx: RingContext, store: AgentStore) -> None:
        async def slow(agents: list[str]) -> None:
            await asyncio.sleep(0.7)

        call = ScriptedCall("c1", {}, during=slow)
        outcome = await ringer.ring(call, "sales", ctx)
        # total_timeout 2 s: the hunt stops before it has offered the call to all four
        assert outcome.status == "no_answer" and 1 <= len(call.rings) < 4
        assert all(t.timeout_s <= 2 for t in call.legs)

    run(redis_url, pbx(strategy="sequential", total_timeout=2), body)
