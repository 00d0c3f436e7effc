"""FreeSwitchCall driven through real FreeSWITCH conversations (traces 02, 03a-03e, 04f, 05).

Each test runs the application in a real OutboundServer while tests/support/trace_replay.py replays a
recorded call against it: the application must send the recorded commands (plus the documented extras
`resume` and `set continue_on_fail=true`), and the outcome it reports must match what FreeSWITCH did.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from esl_apps.call import BridgeOutcome, BridgeTarget, CallHangup, CollectResult, CollectStatus
from esl_apps.esl.bridge_outcome import bridge_result
from esl_apps.esl.fscall import FreeSwitchCall
from esl_apps.esl.outbound import ChannelVariables, OutboundSession
from esl_apps.esl.protocol import EslParser, Event
from esl_apps.esl.tracefile import TraceSection, read_trace
from tests.conftest import FIXTURES
from tests.support.trace_replay import (
    ALLOW_CONTINUE_ON_FAIL,
    ALLOW_RESUME,
    allow_execute,
    replay_outbound,
)

TRACES = FIXTURES / "esl-traces"
AGENT1 = "sofia/external/agent1@127.0.0.1:5091"
AGENT2 = "sofia/external/agent2@127.0.0.1:5092"
BRIDGE_EXTRAS = (ALLOW_RESUME, ALLOW_CONTINUE_ON_FAIL)


def section(prefix: str, index: int = 0) -> TraceSection:
    path = next(TRACES.glob(f"{prefix}-*.txt"))
    return read_trace(path)[index]


def recorded_events(sec: TraceSection, name: str) -> list[Event]:
    out = []
    for entry in sec.entries:
        if entry.kind == "received" and entry.conn == "c1":
            out += [m for m in EslParser().feed(entry.data) if isinstance(m, Event) and m.name == name]
    return out


def run(sec: TraceSection, handler: Any, **kwargs: Any) -> dict[str, Any]:
    """Replay `sec` against `handler(call, session, got)`; returns what the handler stored in `got`."""
    got: dict[str, Any] = {}

    async def app(session: OutboundSession) -> None:
        try:
            await handler(FreeSwitchCall(session), session, got)
        except BaseException as exc:
            got["error"] = exc
            raise

    async def main() -> None:
        replay = await replay_outbound(sec, app, **kwargs)
        got["replay"] = replay

    asyncio.run(main())
    assert got["replay"].errors == [], got["replay"].errors
    assert "error" not in got, got.get("error")
    return got


# ---------------------------------------------------------------------------------------------- 02: DTMF

DTMF_CASES = [
    (0, r"\d+", CollectResult("12", CollectStatus.SUCCESS, "#", None), "12"),
    (1, r"\d+", CollectResult("", CollectStatus.TIMEOUT, None, None), None),
    (2, "^[1-3]$", CollectResult("2", CollectStatus.SUCCESS, "#", "9"), "2"),
]


@pytest.mark.parametrize(("index", "regex", "expected", "getvar"), DTMF_CASES)
def test_collect_reads_the_outcome_of_play_and_get_digits(index, regex, expected, getvar) -> None:
    async def handler(call: FreeSwitchCall, session: OutboundSession, got: dict[str, Any]) -> None:
        await call.answer()
        got["result"] = await call.collect(
            "tone_stream://%(1000,0,600)",
            min_digits=1,
            max_digits=4,
            tries=3,
            timeout_ms=5000,
            terminators="#",
            regex=regex,
            invalid_prompt="tone_stream://%(200,0,300)",
            variable="ivr_choice",
        )
        got["getvar"] = await call.get_var("ivr_choice")
        await call.hangup()
        got["after_hangup"] = session.hung_up

    got = run(section("02", index), handler)
    assert got["result"] == expected
    assert got["getvar"] == getvar
    replay = got["replay"]
    assert replay.commands[-1].name == "exit"  # sent only after HANGUP_COMPLETE + the linger notice
    assert [c.get("call-command") for c in replay.commands if c.name == "sendmsg"][-1] == "hangup"


# ---------------------------------------------------------------------------------------------- 03: bridge


def test_bridge_no_answer_when_freeswitch_hangs_up_the_caller_reports_then_raises() -> None:
    # 03a section 1: the recorded call had no continue_on_fail, so FreeSWITCH hung the caller up
    # (ALLOTTED_TIMEOUT) before the bridge completed. The failure is still reported; later calls raise.
    async def handler(call, session, got):
        await call.answer()
        got["result"] = await call.bridge([BridgeTarget(AGENT1, timeout_s=5, agent_id="agent1")])
        with pytest.raises(CallHangup) as info:
            await call.play("tone_stream://%(500,0,300)")
        got["later"] = info.value.cause

    got = run(section("03a", 0), handler, extras=BRIDGE_EXTRAS)
    result = got["result"]
    assert (result.outcome, result.cause, result.answered_by) == (
        BridgeOutcome.NO_ANSWER, "ALLOTTED_TIMEOUT", None,
    )
    assert len(result.leg_causes) == 1 and result.leg_causes[0][1] == "ALLOTTED_TIMEOUT"
    assert got["later"] == "ALLOTTED_TIMEOUT"
    assert got["replay"].extras_answered == ["resume", "execute set continue_on_fail=true"]


@pytest.mark.parametrize(("prefix", "cause", "outcome"), [
    ("03a", "ALLOTTED_TIMEOUT", BridgeOutcome.NO_ANSWER),
    ("03b", "USER_BUSY", BridgeOutcome.BUSY),
])
def test_bridge_failure_with_continue_on_fail_keeps_the_caller(prefix, cause, outcome) -> None:
    sec = section(prefix, 1)

    async def handler(call, session, got):
        await call.answer()
        got["result"] = await call.bridge([BridgeTarget(AGENT1, timeout_s=5, agent_id="agent1")])
        got["exists"] = (await session.api("uuid_exists", call.uuid)).body
        got["played"] = await call.play("tone_stream://%(500,0,300)")
        await session.execute("hangup", "NORMAL_CLEARING")

    got = run(sec, handler, extras=(ALLOW_RESUME,))  # continue_on_fail is in the recording itself
    assert (got["result"].outcome, got["result"].cause) == (outcome, cause)
    assert got["result"].ended_by is None
    assert got["exists"] == "true" and got["played"] == "FILE PLAYED"


def test_bridge_busy_without_continue_on_fail_reports_busy() -> None:
    async def handler(call, session, got):
        await call.answer()
        got["result"] = await call.bridge([BridgeTarget(AGENT1, timeout_s=5, agent_id="agent1")])
        got["hung_up"] = call.hung_up

    got = run(section("03b", 0), handler, extras=BRIDGE_EXTRAS)
    assert (got["result"].outcome, got["result"].cause) == (BridgeOutcome.BUSY, "USER_BUSY")
    assert got["hung_up"] is True


def test_originate_timeout_outcome_is_no_answer() -> None:
    # 03a section 3 used {originate_timeout=5} (our dial strings use leg_timeout), so the outcome
    # mapping is checked on the real COMPLETE through the session directly.
    async def handler(call, session, got):
        await call.answer()
        await session.execute("set", "continue_on_fail=true")
        done = await session.execute("bridge", "{originate_timeout=5}" + AGENT1)
        got["result"] = bridge_result(
            ChannelVariables(done.headers), targets=[BridgeTarget(AGENT1)], bridged=None, caller_hung_up=False
        )
        await session.api("uuid_exists", call.uuid)
        await call.play("tone_stream://%(500,0,300)")
        await session.execute("hangup", "NORMAL_CLEARING")

    got = run(section("03a", 2), handler)
    assert (got["result"].outcome, got["result"].cause) == (BridgeOutcome.NO_ANSWER, "NO_ANSWER")


def test_answered_bridge_ended_by_the_caller_is_returned_not_raised() -> None:
    sec = section("03c", 0)
    b_leg = recorded_events(sec, "CHANNEL_BRIDGE")[0].get("Other-Leg-Unique-ID")

    async def handler(call, session, got):
        await call.answer()
        got["result"] = await call.bridge([BridgeTarget(AGENT1, timeout_s=15, agent_id="agent1")])
        with pytest.raises(CallHangup):
            await call.get_var("anything")

    result = run(sec, handler, extras=BRIDGE_EXTRAS)["result"]
    assert result.outcome is BridgeOutcome.ANSWERED and result.cause == "SUCCESS"
    assert (result.answered_by, result.ended_by, result.other_leg_uuid) == ("agent1", "caller", b_leg)
    assert result.leg_causes == ((b_leg, "NONE"),)


def test_answered_bridge_ended_by_the_agent_leaves_the_caller_with_the_app() -> None:
    async def handler(call, session, got):
        await call.answer()
        got["result"] = await call.bridge([BridgeTarget(AGENT1, timeout_s=15, agent_id="agent1")])
        await session.api("uuid_exists", call.uuid)
        got["played"] = await call.play("tone_stream://%(500,0,300)")
        await session.execute("hangup", "NORMAL_CLEARING")

    got = run(section("03c", 1), handler, extras=BRIDGE_EXTRAS)
    assert (got["result"].outcome, got["result"].ended_by) == (BridgeOutcome.ANSWERED, "agent")
    assert got["result"].answered_by == "agent1"
    assert got["played"] == "FILE PLAYED"


@pytest.mark.parametrize(("prefix", "simultaneous", "timeouts", "first_leg_cause"), [
    ("03d", False, (4, 10), "ALLOTTED_TIMEOUT"),
    ("03e", True, (15, 15), "LOSE_RACE"),
])
def test_ring_groups_name_the_agent_who_answered(prefix, simultaneous, timeouts, first_leg_cause) -> None:
    sec = section(prefix)
    b_leg = recorded_events(sec, "CHANNEL_BRIDGE")[0].get("Other-Leg-Unique-ID")
    targets = [
        BridgeTarget(AGENT1, timeout_s=timeouts[0], agent_id="agent1"),
        BridgeTarget(AGENT2, timeout_s=timeouts[1], agent_id="agent2"),
    ]

    async def handler(call, session, got):
        await call.answer()
        got["steps"] = []

        async def on_answer(agent_id):
            # Runs at CHANNEL_BRIDGE, before the bridge application completes.
            got["steps"].append(("answered", agent_id))

        got["result"] = await call.bridge(targets, simultaneous=simultaneous, on_answer=on_answer)
        got["steps"].append(("bridge returned", None))

    # The linger notice arrives BEFORE the bridge completes here; the session must still see the
    # completion and HANGUP_COMPLETE before it sends exit (the replay checks exit comes last).
    got = run(sec, handler, extras=BRIDGE_EXTRAS)
    assert got["steps"] == [("answered", "agent2"), ("bridge returned", None)]
    result = got["result"]
    assert (result.outcome, result.cause, result.answered_by, result.ended_by) == (
        BridgeOutcome.ANSWERED, "SUCCESS", "agent2", "caller",
    )
    assert result.other_leg_uuid == b_leg
    assert [cause for _, cause in result.leg_causes] == [first_leg_cause, "NONE"]
    assert result.leg_causes[1][0] == b_leg


# ---------------------------------------------------------------------------------------------- 04f: meta


def test_bind_meta_sets_the_disposition_during_the_bridge() -> None:
    sec = section("04f")
    b_leg = recorded_events(sec, "CHANNEL_BRIDGE")[0].get("Other-Leg-Unique-ID")

    async def handler(call, session, got):
        mid_bridge: list[str] = []
        bridged = [False]

        def watch(event: Event) -> None:
            if event.name in ("CHANNEL_BRIDGE", "CHANNEL_UNBRIDGE"):
                bridged[0] = event.name == "CHANNEL_BRIDGE"
            elif bridged[0] and event.name == "CHANNEL_EXECUTE_COMPLETE":
                mid_bridge.append(event.get("Application-Data") or "")

        await call.answer()
        # The recording also bound *1 without the inline flag (to show it runs too late); keep it.
        await session.execute("bind_meta_app", "1 b o set::agent_disposition=1")
        await call.bind_meta("2", "agent_disposition", "2")
        session.add_event_listener(watch)
        result = await call.bridge([BridgeTarget(AGENT1, timeout_s=15, agent_id="agent1")])
        got.update(result=result, mid_bridge=list(mid_bridge))
        got["exists"] = (await session.api("uuid_exists", result.other_leg_uuid or "")).body
        await session.wait_hangup()
        got["final"] = call.variables.get("agent_disposition")

    got = run(sec, handler, extras=BRIDGE_EXTRAS)
    assert got["mid_bridge"] == ["agent_disposition=2"]
    assert got["result"].answered and got["result"].other_leg_uuid == b_leg
    assert got["exists"] == "false"
    # The non-inline *1 ran after the bridge ended and overwrote the value (HANGUP_COMPLETE shows 1):
    # the variables follow every event, which is why bind_meta always uses the inline flag.
    assert got["final"] == "1"


# ---------------------------------------------------------------------------------------------- 05: record


def test_recording_with_pci_mask() -> None:
    sec = section("05")
    path = "/var/lib/freeswitch/recordings/esl-trace-c93357d0-72cf-4f03-85de-b650aca638ae.wav"

    async def handler(call, session, got):
        record_events: list[tuple[str, str | None]] = []
        playing = asyncio.Event()

        def watch(event: Event) -> None:
            if event.name in ("RECORD_START", "RECORD_STOP"):
                record_events.append((event.name, event.get("Record-File-Path")))
            if event.name == "CHANNEL_EXECUTE" and event.get("Application") == "playback":
                playing.set()

        session.add_event_listener(watch)
        await call.answer()
        await call.record_start(path)
        play = asyncio.create_task(call.play("tone_stream://%(1000,0,440);loops=8"))
        await playing.wait()
        await call.record_mask(path)
        await call.record_unmask(path)
        got["played"] = await play
        await call.record_stop(path)
        got["records"] = record_events
        got["seconds"] = call.variables.get("record_seconds")
        await session.execute("hangup", "NORMAL_CLEARING")

    got = run(
        sec, handler,
        extras=(ALLOW_RESUME, allow_execute("set", "RECORD_STEREO=true")),
        events=("RECORD_START", "RECORD_STOP"),
    )
    assert got["played"] == "FILE PLAYED"
    assert got["records"] == [("RECORD_START", path), ("RECORD_STOP", path)]
    assert got["seconds"] == "8"
    mask = [c.args for c in got["replay"].commands if c.name == "api"]
    uuid = "c93357d0-72cf-4f03-85de-b650aca638ae"
    assert mask == [f"uuid_record {uuid} {action} {path}" for action in ("mask", "unmask")]
