"""Agent state in Redis: login/pause, calls, wrap-up, auto-pause, and one agent shared by groups."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from esl_apps.features.agents import NO_ANSWER_REASON, AgentStatus, AgentStore
from esl_apps.store.connect import connect
from esl_apps.store.pick import GroupPicker, MemberConfig

SALES = (MemberConfig("alice"), MemberConfig("bob"))
SUPPORT = (MemberConfig("bob"), MemberConfig("carol"))


def run(redis_url: str, body: Callable[[AgentStore, GroupPicker], Awaitable[None]]) -> None:
    async def main() -> None:
        client = connect(redis_url)
        try:
            await body(AgentStore(client), GroupPicker(client, owner_id="node-a"))
        finally:
            await client.aclose()

    asyncio.run(main())


def test_unknown_agent_is_logged_out_and_never_picked(redis_url: str) -> None:
    async def body(store: AgentStore, picker: GroupPicker) -> None:
        state = await store.get("nobody")
        assert state.status is AgentStatus.LOGGED_OUT and not state.free
        await store.login("alice")
        assert await picker.pick("sales", "simultaneous", SALES, count=None) == ["alice"]

    run(redis_url, body)


def test_login_pause_unpause_logout(redis_url: str) -> None:
    async def body(store: AgentStore, picker: GroupPicker) -> None:
        assert (await store.login("alice")).status is AgentStatus.AVAILABLE
        paused = await store.pause("alice", "lunch")
        assert (paused.status, paused.reason) == (AgentStatus.PAUSED, "lunch")
        await store.login("bob")
        assert await picker.pick("sales", "sequential", SALES, count=None) == ["bob"]
        await picker.release(["bob"])
        assert (await store.unpause("alice")).status is AgentStatus.AVAILABLE
        assert await picker.pick("sales", "sequential", SALES, count=None) == ["alice", "bob"]
        await picker.release(["alice", "bob"])
        assert (await store.logout("alice")).status is AgentStatus.LOGGED_OUT
        assert await picker.pick("sales", "sequential", SALES, count=None) == ["bob"]
        # pausing a logged-out agent does not log them in
        assert (await store.pause("alice", "x")).status is AgentStatus.LOGGED_OUT
        assert await store.known_agents() == ["alice", "bob"]

    run(redis_url, body)


def test_wrap_up_then_available_without_any_timer(redis_url: str) -> None:
    async def body(store: AgentStore, picker: GroupPicker) -> None:
        await store.login("alice")
        await store.login("bob")
        on_call = await store.call_started("alice", "call-1")
        assert on_call.status is AgentStatus.ON_CALL and on_call.call_uuid == "call-1"
        ended = await store.call_ended("alice", talk_s=42.5, wrapup_s=0.3, call_uuid="call-1")
        assert ended.status is AgentStatus.WRAP_UP
        assert ended.wrapup_until_ms - ended.last_call_end_ms == 300
        assert (ended.calls_taken, ended.talk_time_s) == (1, 42.5)
        assert await picker.pick("sales", "sequential", SALES, count=None) == ["bob"]
        await picker.release(["bob"])
        await asyncio.sleep(0.35)
        state = await store.get("alice")
        assert state.status is AgentStatus.AVAILABLE and state.free
        assert await picker.pick("sales", "sequential", SALES, count=None) == ["alice", "bob"]

    run(redis_url, body)


def test_call_ended_for_another_call_or_twice_changes_nothing(redis_url: str) -> None:
    async def body(store: AgentStore, picker: GroupPicker) -> None:
        await store.login("alice")
        await store.call_started("alice", "call-1")
        stale = await store.call_ended("alice", talk_s=5, wrapup_s=10, call_uuid="call-0")
        assert stale.status is AgentStatus.ON_CALL and stale.call_uuid == "call-1"
        await store.call_ended("alice", talk_s=5, wrapup_s=0, call_uuid="call-1")
        again = await store.call_ended("alice", talk_s=5, wrapup_s=30, call_uuid="call-1")
        assert again.status is AgentStatus.AVAILABLE and again.talk_time_s == 5

    run(redis_url, body)


def test_pause_or_logout_during_a_call_applies_when_it_ends(redis_url: str) -> None:
    async def body(store: AgentStore, picker: GroupPicker) -> None:
        await store.login("alice")
        await store.login("bob")
        await store.call_started("alice", "c1")
        during = await store.pause("alice", "break")
        assert during.status is AgentStatus.ON_CALL and during.pending == "pause"
        after = await store.call_ended("alice", talk_s=1, wrapup_s=30)
        assert (after.status, after.reason) == (AgentStatus.PAUSED, "break")
        await store.call_started("bob", "c2")
        await store.logout("bob")
        assert (await store.call_ended("bob", talk_s=1, wrapup_s=30)).status is AgentStatus.LOGGED_OUT
        assert await picker.pick("sales", "simultaneous", SALES, count=None) == []

    run(redis_url, body)


def test_auto_pause_after_consecutive_no_answers(redis_url: str) -> None:
    async def body(store: AgentStore, picker: GroupPicker) -> None:
        await store.login("alice")
        await store.login("bob")
        for expected in (1, 2):
            state = await store.no_answer("alice", auto_pause_after=3)
            assert state.consecutive_no_answers == expected and state.status is AgentStatus.AVAILABLE
        # an answered call resets the count
        await store.call_started("alice", "c1")
        await store.call_ended("alice", talk_s=3, wrapup_s=0)
        assert (await store.get("alice")).consecutive_no_answers == 0
        for _ in range(2):
            await store.no_answer("alice", auto_pause_after=3)
        third = await store.no_answer("alice", auto_pause_after=3)
        assert (third.status, third.reason) == (AgentStatus.PAUSED, NO_ANSWER_REASON)
        assert await picker.pick("sales", "sequential", SALES, count=None) == ["bob"]
        await picker.release(["bob"])
        back = await store.unpause("alice")
        assert back.status is AgentStatus.AVAILABLE and back.consecutive_no_answers == 0
        # without a limit, misses are only counted
        for _ in range(5):
            state = await store.no_answer("bob", auto_pause_after=None)
        assert state.status is AgentStatus.AVAILABLE and state.consecutive_no_answers == 5

    run(redis_url, body)


def test_agent_in_two_groups_is_busy_for_both(redis_url: str) -> None:
    async def body(store: AgentStore, picker: GroupPicker) -> None:
        for agent in ("alice", "bob", "carol"):
            await store.login(agent)
        await picker.sync_group("support", SUPPORT)
        # bob reserved through sales: support must not offer him
        got = await picker.pick("sales", "sequential", SALES, count=None, call_uuid="s1", exclude=["alice"])
        assert got == ["bob"]
        assert await picker.pick("support", "sequential", SUPPORT, count=None, call_uuid="p1") == ["carol"]
        await picker.release(["carol"], "p1")
        assert await picker.confirm("bob", "s1")
        assert (await store.get("bob")).status is AgentStatus.ON_CALL
        assert await picker.pick("support", "sequential", SUPPORT, count=None, call_uuid="p2") == ["carol"]
        await picker.release(["carol"], "p2")
        await store.call_ended("bob", talk_s=60, wrapup_s=0)
        got = await picker.pick("support", "sequential", SUPPORT, count=None, call_uuid="p3")
        assert got == ["bob", "carol"]
        bob = await store.get("bob")
        assert bob.calls_taken == 1 and bob.reserved_by is not None and bob.reserved_by.group == "support"

    run(redis_url, body)


def test_fewest_calls_counts_start_again_each_day_or_week(redis_url: str) -> None:
    """No reset job: a new period id makes yesterday's counts zero, for the group's reset mode."""
    monday_noon = datetime(2026, 11, 23, 12, 0, tzinfo=UTC).timestamp()
    now = [monday_noon]

    async def main() -> None:
        client = connect(redis_url)
        store = AgentStore(client, tz=UTC, clock=lambda: now[0])
        picker = GroupPicker(client, owner_id="node-a", tz=UTC, clock=lambda: now[0])
        try:
            for agent in ("alice", "bob"):
                await store.login(agent)
            for n in range(3):
                await store.call_started("alice", f"a{n}")
                await store.call_ended("alice", talk_s=1, wrapup_s=0)
            now[0] += 86400  # Tuesday
            await store.call_started("bob", "b0")
            await store.call_ended("bob", talk_s=1, wrapup_s=0)
            alice = await store.get("alice")
            assert (alice.calls_today, alice.calls_this_week, alice.calls_taken) == (0, 3, 3)
            for reset, expected in (("daily", ["alice", "bob"]), ("weekly", ["bob", "alice"]),
                                    ("never", ["bob", "alice"])):
                got = await picker.pick("sales", "fewest_calls", SALES, count=None, reset=reset)
                assert got == expected, reset
                await picker.release(got)
            now[0] += 6 * 86400  # next Monday: both weekly counts are zero again, tie -> config order
            got = await picker.pick("sales", "fewest_calls", SALES, count=None, reset="weekly")
            assert got == ["alice", "bob"]
        finally:
            await client.aclose()

    asyncio.run(main())
