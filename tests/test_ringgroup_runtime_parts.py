"""The runtime's parts on their own: number confirmation for callbacks, the shared line in Redis,
wake-up signals between processes, position/wait announcements, overflow chains and the records."""

from __future__ import annotations

import asyncio

from esl_apps.config import load_config
from esl_apps.features.callback_offer import confirm_number
from esl_apps.features.interactions import Interaction, system_disposition
from esl_apps.features.overflow import describe, overflow_chain
from esl_apps.features.queue_media import QueuePrompts, announce_place
from esl_apps.features.queue_signals import QueueSignals
from esl_apps.features.queue_store import QueueStore
from esl_apps.store.connect import connect
from tests.support.ringgroup_rig import make_pbx
from tests.support.scripted_call import ScriptedCall

# -- confirming the number to call back -------------------------------------------------------


def confirmed(inputs: list[str | None], caller: str = "+441632960001",  # type: ignore[no-untyped-def]
              **kw) -> tuple[str | None, ScriptedCall]:
    call = ScriptedCall(inputs=inputs, caller=caller)
    return asyncio.run(confirm_number(call, **kw)), call


def test_caller_id_read_back_and_confirmed() -> None:
    number, call = confirmed(["1"])
    assert number == "+441632960001"
    assert call.of("say") == [("say", "en", "number", "iterated", "441632960001")]


def test_caller_keys_another_number_which_is_read_back() -> None:
    number, call = confirmed(["2", "07700900123#", "1"])
    assert number == "07700900123"
    assert [a[4] for a in call.of("say")] == ["441632960001", "07700900123"]


def test_withheld_caller_id_asks_for_a_number_and_rejects_short_ones() -> None:
    number, call = confirmed(["123#", "0161496000#", "1"], caller="anonymous")
    assert number == "0161496000"
    [enter, _] = call.of("collect")
    assert enter[1] == "ivr/ivr-please_enter_the_phone_number.wav" and enter[2]["regex"] == "^[0-9]{6,15}$"


def test_no_confirmation_means_no_callback() -> None:
    assert confirmed([None, None])[0] is None
    assert confirmed(["2", None, None, None])[0] is None


def test_caller_id_taken_as_is_when_confirmation_is_off() -> None:
    number, call = confirmed([], read_back_caller_id=False)
    assert number == "+441632960001" and call.actions == []


# -- the line ---------------------------------------------------------------------------------


def test_line_positions_limits_and_returning_to_the_same_place(redis_url) -> None:
    async def body() -> None:
        client = connect(redis_url)
        store = QueueStore(client)
        keys = store.keys("support", "support")
        try:
            assert (await store.join(keys, "a", 1000, 3)).position == 1
            assert (await store.join(keys, "c", 3000, 3)).position == 2
            assert (await store.join(keys, "b", 2000, 3)).position == 2  # by arrival, not by join order
            assert (await store.join(keys, "d", 4000, 3)).position == 0  # full
            await store.leave(keys, "a")  # a stepped out to ring an agent ...
            assert (await store.check(keys, "b")).is_head
            assert (await store.join(keys, "a", 1000, 3)).position == 1  # ... and came back first
            assert (await store.join(keys, "a", 1000, 3)).length == 3  # joining twice changes nothing
            assert (await store.check(keys, "zz")).position == 0
            assert [u for u, _ in await store.waiting(keys)] == ["a", "b", "c"]
        finally:
            await store.aclose()
            await client.aclose()

    asyncio.run(body())


def test_estimated_wait_learns_seconds_per_place(redis_url) -> None:
    async def body() -> None:
        client = connect(redis_url)
        store = QueueStore(client)
        keys = store.keys("support", "support")
        try:
            await store.join(keys, "x", 1, 0)
            assert (await store.check(keys, "x")).estimated_wait_s() is None  # nothing learnt yet
            await store.record_wait(keys, 120.0, 2)  # 60 s per place
            await store.record_wait(keys, 20.0, 1)  # 20 s per place -> 60 + 0.25 * (20 - 60) = 50
            place = await store.check(keys, "x")
            assert place.seconds_per_place == 50.0 and place.estimated_wait_s() == 50.0
        finally:
            await store.aclose()
            await client.aclose()

    asyncio.run(body())


def test_announcement_says_place_and_wait_rounded_up_to_minutes() -> None:
    call = ScriptedCall()
    asyncio.run(announce_place(call, QueuePrompts(), "en", 3, 70.0))
    assert [a[:2] for a in call.actions] == [
        ("play", "ivr/ivr-you_are_number.wav"), ("say", "en"), ("play", "ivr/ivr-in_line.wav"),
        ("play", "ivr/ivr-estimated_hold_time.wav"), ("say", "en"),
    ]
    assert [a[2:] for a in call.of("say")] == [
        ("number", "pronounced", "3"), ("time_measurement", "pronounced", "120"),
    ]


# -- wake-ups between processes ---------------------------------------------------------------


def test_a_signal_from_another_process_ends_the_wait_at_once(redis_url) -> None:
    async def body() -> None:
        a_client, b_client = connect(redis_url), connect(redis_url)
        a, b = QueueSignals(a_client), QueueSignals(b_client)
        try:
            channel = "esl:notify:q:support:support"
            a.versions([channel])
            for _ in range(100):  # the listener subscribes in the background (and then wakes
                if a.connected:   # every waiter once, since it may have missed something)
                    break
                await asyncio.sleep(0.01)
            seen = a.versions([channel])
            assert await a.wait(seen, 0.05) is False  # nothing happened: the timeout ends it
            seen = a.versions([channel])
            waiter = asyncio.ensure_future(a.wait(seen, 10.0))
            await asyncio.sleep(0.05)
            assert not waiter.done()
            await b.publish(channel)
            assert await asyncio.wait_for(waiter, 2.0) is True
            seen = a.versions([channel])
            await a.publish(channel)  # published between reading the state and waiting: not lost
            assert await a.wait(seen, 10.0) is True
        finally:
            await a.aclose()
            await b.aclose()
            await a_client.aclose()
            await b_client.aclose()

    asyncio.run(body())


def test_a_wrap_up_end_still_pending_at_close_is_never_published(redis_url) -> None:
    """Closing at shutdown cancels the "agent free again" timers, so none fires into a Redis
    client that is being closed (seen as a publish coroutine destroyed mid-connect at loop end)."""
    async def body() -> tuple[int, int, int]:
        client, listener_client = connect(redis_url), connect(redis_url)
        signals, listener = QueueSignals(client), QueueSignals(listener_client)
        try:
            channel = signals.agents_channel
            listener.versions([channel])
            for _ in range(100):
                if listener.connected:
                    break
                await asyncio.sleep(0.01)
            seen = listener.versions([channel])
            signals.publish_later(0.05, channel, "agent-1")  # fires: a control that the path works
            fired = await listener.wait(seen, 5.0)
            seen = listener.versions([channel])
            signals.publish_later(0.1, channel, "agent-2")
            await signals.aclose()
            after_close = await listener.wait(seen, 0.4)
            pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()
                       and "publish" in repr(t.get_coro())]
            return fired, after_close, len(pending)
        finally:
            await listener.aclose()
            await client.aclose()
            await listener_client.aclose()

    assert asyncio.run(body()) == (True, False, 0)


# -- overflow chains and records --------------------------------------------------------------


def test_overflow_chain_follows_the_rules_then_the_group_voicemail() -> None:
    pbx = make_pbx({
        "sales": {"members": ["alice"], "voicemail": "sales", "overflow": [
            {"when": ["no_answer"], "to": {"group": "billing"}},
            {"when": ["no_answer", "max_wait"], "to": {"callback": True}},
            {"when": ["closed"], "to": {"voicemail": "sales"}},
        ]},
        "billing": {"members": ["bob"]},
    })
    group = pbx.ring_groups["sales"]
    no_answer = [describe(t) for t in overflow_chain(group, "no_answer")]
    assert no_answer == ["group:billing", "callback", "voicemail:sales"]
    assert [describe(t) for t in overflow_chain(group, "closed")] == ["voicemail:sales"]
    assert [describe(t) for t in overflow_chain(pbx.ring_groups["billing"], "all_busy")] == []


def test_system_dispositions_use_the_codebook_system_codes() -> None:
    codebook = load_config().dispositions
    record = Interaction(call_uuid="u", group="sales", queue=None, did="+44", caller="+44", offered_at=1)
    expected = {"no_answer": "11", "busy": "12", "abandoned": "13", "voicemail": "14", "callback": "15"}
    for outcome, code in expected.items():
        record.outcome = outcome  # type: ignore[assignment]
        disposition = system_disposition(record, codebook, 5)
        assert disposition is not None and disposition["codes"] == [code]
        assert disposition["categories"] == {"outcome": code} and disposition["agent"] is None
        assert disposition["source"] == "system" and disposition["system_outcome"] == outcome
    for outcome in ("answered", "overflow", "failed"):
        record.outcome = outcome  # type: ignore[assignment]
        assert system_disposition(record, codebook, 5) is None
    record.outcome = "busy"
    assert system_disposition(record, None, 5) is None
