"""OutboundServer / OutboundSession: recorded calls (01, 06c) and the failure behaviour FreeSWITCH needs
(never stall a connection, hand failed calls back to the dialplan, exit only after the last events)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from esl_apps.call import Call, CallCommandError, CallHangup
from esl_apps.esl import protocol as p
from esl_apps.esl.fscall import FreeSwitchCall
from esl_apps.esl.outbound import OutboundServer, OutboundSession
from esl_apps.esl.protocol import Command
from esl_apps.esl.tracefile import read_trace
from tests.conftest import FIXTURES
from tests.support.trace_replay import AutoSwitch, first_received, replay_outbound, sent_entries

TRACES = FIXTURES / "esl-traces"
BASIC = read_trace(TRACES / "01-outbound-basic.txt")[0]
CONNECT_REPLY = first_received(BASIC).data
CALL_UUID = "3a8e0f21-677c-4e3c-b7cc-6d6d8c078af7"


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 20))  # type: ignore[arg-type]


async def started(handler: Callable[[OutboundSession], Awaitable[None]], **kwargs: Any) -> OutboundServer:
    server = OutboundServer(handler, port=0, end_timeout_s=0.5, **kwargs)
    await server.start()
    return server


async def eof_without_data(port: int) -> bytes:
    """Connect like FreeSWITCH and read: b'' means the app closed at once without sending anything."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        return await asyncio.wait_for(reader.read(100), 2)
    finally:
        writer.close()


# ---------------------------------------------------------------------------------------------- traces


def test_basic_call_hangup_during_playback_then_exit_after_the_last_events() -> None:
    got: dict[str, Any] = {}

    async def handler(session: OutboundSession) -> None:
        got["caller"] = session.channel.get("Caller-Caller-ID-Number")
        got["var"] = session.variables.get("sip_from_user")
        call = FreeSwitchCall(session)
        got["is_call"] = isinstance(call, Call)
        await call.answer()
        try:
            await call.play("tone_stream://%(1000,0,440);loops=20")
        except CallHangup as exc:
            got["cause"] = exc.cause
        got["hangup"] = await session.wait_hangup()

    replay = run(replay_outbound(BASIC, handler))
    assert replay.errors == []
    lines = [c.line for c in replay.commands]
    assert lines == ["connect", "myevents", "linger", "resume", "sendmsg", "sendmsg", "exit"]
    assert got == {
        "caller": "5551000", "var": "5551000", "cause": "NORMAL_CLEARING", "hangup": "NORMAL_CLEARING",
        "is_call": True,
    }


def test_rejected_commands_raise_typed_errors_and_a_bad_application_ends_the_call() -> None:
    sec = read_trace(TRACES / "06c-failure-malformed-commands.txt")[0]
    broken_sendmsg = next(e.data for e in sent_entries(sec) if b"has no colon" in e.data)
    got: dict[str, Any] = {}

    async def refused(session: OutboundSession, data: bytes) -> str:
        with pytest.raises(CallCommandError) as info:
            await session.command(data)
        return info.value.reply_text

    async def handler(session: OutboundSession) -> None:
        await FreeSwitchCall(session).answer()
        got["foobar"] = await refused(session, b"foobar\n\n")
        got["api"] = await refused(session, b"api\n\n")
        got["nosuch"] = await session.api("nosuchcommand", "arg1")
        got["usage"] = await session.api("uuid_kill")
        got["myevents"] = await refused(session, p.myevents())
        got["event"] = await refused(session, p.event(["NOT_AN_EVENT"]))
        got["event_bare"] = await refused(session, b"event\n\n")
        got["filter"] = await refused(session, b"filter\n\n")
        got["getvar"] = await refused(session, b"getvar\n\n")
        got["bogus"] = (await session.command(p.sendmsg("bogus"))).reply_text
        got["no_app"] = (await session.command(p.sendmsg("execute"))).reply_text
        got["broken"] = (await session.command(broken_sendmsg)).reply_text
        zero = "00000000-0000-0000-0000-000000000000"
        bad = p.sendmsg_execute("log", "NOTICE x", uuid=zero, event_lock=False)
        got["bad_uuid"] = await refused(session, bad)
        got["linger"] = (await session.command(b"linger abc\n\n")).reply_text
        got["bgapi"] = (await session.command(p.bgapi("status"))).job_uuid
        got["auth"] = await refused(session, p.auth("ClueCon"))
        with pytest.raises(CallHangup) as info:
            await session.execute("no_such_app", "x")
        got["hangup"] = info.value.cause

    replay = run(replay_outbound(sec, handler))
    assert replay.errors == []
    not_found = {got[k] for k in ("foobar", "api", "filter", "getvar", "auth")}
    assert not_found == {"-ERR command not found"}
    assert (got["nosuch"].ok, got["nosuch"].body) == (False, "-ERR nosuchcommand Command not found!\n")
    assert (got["usage"].ok, got["usage"].body) == (False, "-USAGE: <uuid> [cause]\n")
    assert got["myevents"] == "-ERR aready enabled."
    assert got["event"] == got["event_bare"] == "-ERR no keywords supplied"
    assert got["bogus"] == got["no_app"] == got["broken"] == "+OK"
    assert got["bad_uuid"] == "-ERR invalid session id [00000000-0000-0000-0000-000000000000]"
    assert got["linger"] == "+OK will linger 0 seconds"
    assert got["bgapi"] == "11fb2192-ead3-433a-864f-ee96c8912777"
    assert got["hangup"] == "DESTINATION_OUT_OF_ORDER"


# ---------------------------------------------------------------------------------------------- failures


def test_at_capacity_a_new_connection_is_closed_at_once() -> None:
    async def main() -> None:
        release = asyncio.Event()

        async def handler(session: OutboundSession) -> None:
            await release.wait()

        server = await started(handler, max_calls=1)
        first = AutoSwitch(CONNECT_REPLY)
        await first.connect("127.0.0.1", server.port)
        assert (await asyncio.wait_for(first.first_bytes, 2)) == b"connect\n\n"
        assert server.active_calls == 1  # admitted when accepted, before `connect` went out
        assert await eof_without_data(server.port) == b""  # closed, never stalled
        assert server.refused_calls == 1
        release.set()
        await asyncio.wait_for(first.closed, 2)
        await server.stop(1)

    run(main())


def test_handler_exception_closes_the_socket_without_hangup(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> AutoSwitch:
        async def handler(session: OutboundSession) -> None:
            await FreeSwitchCall(session).answer()
            raise RuntimeError("flow bug")

        server = await started(handler)
        switch = AutoSwitch(CONNECT_REPLY)
        await switch.connect("127.0.0.1", server.port)
        await asyncio.wait_for(switch.closed, 2)
        await server.stop(1)
        return switch

    with caplog.at_level(logging.ERROR, logger="esl_apps.esl.outbound"):
        switch = run(main())
    assert switch.names() == ["connect", "myevents", "linger", "resume", "sendmsg execute"]
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and CALL_UUID in errors[0].getMessage()


def test_malformed_frame_logs_once_and_hands_the_call_back(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> tuple[AutoSwitch, dict[str, Any]]:
        got: dict[str, Any] = {}
        garbage_sent = asyncio.Event()

        async def handler(session: OutboundSession) -> None:
            await garbage_sent.wait()
            try:
                await session.execute("playback", "x.wav")
            except CallHangup as exc:
                got["cause"] = exc.cause

        server = await started(handler)
        switch = AutoSwitch(CONNECT_REPLY)
        await switch.connect("127.0.0.1", server.port)
        await switch.until(4)  # connect, myevents, linger, resume
        switch.send(b"Content-Type: text/event-plain\nContent-Length: banana\n\n")
        garbage_sent.set()
        await asyncio.wait_for(switch.closed, 2)
        await server.stop(1)
        return switch, got

    with caplog.at_level(logging.ERROR, logger="esl_apps.esl.outbound"):
        switch, got = run(main())
    assert "exit" not in switch.names() and "sendmsg hangup" not in switch.names()
    assert got["cause"] == "CONNECTION_LOST"
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "malformed" in errors[0].getMessage() and CALL_UUID in errors[0].getMessage()


def test_unknown_content_type_is_skipped(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> dict[str, Any]:
        got: dict[str, Any] = {}
        xml_sent = asyncio.Event()

        async def handler(session: OutboundSession) -> None:
            await xml_sent.wait()
            got["answer"] = (await session.execute("answer")).name

        server = await started(handler)
        switch = AutoSwitch(CONNECT_REPLY)
        await switch.connect("127.0.0.1", server.port)
        await switch.until(4)  # connect, myevents, linger, resume
        switch.send(b"Content-Type: text/event-xml\nContent-Length: 6\n\n<x/>\n\n")
        xml_sent.set()
        await asyncio.wait_for(switch.closed, 2)
        await server.stop(1)
        return got

    with caplog.at_level(logging.WARNING, logger="esl_apps.esl.outbound"):
        got = run(main())
    assert got["answer"] == "CHANNEL_EXECUTE_COMPLETE"
    assert any("text/event-xml" in r.getMessage() for r in caplog.records)


def test_stop_refuses_new_calls_while_active_ones_finish() -> None:
    async def main() -> None:
        release = asyncio.Event()
        finished: list[str] = []

        async def handler(session: OutboundSession) -> None:
            await release.wait()
            await FreeSwitchCall(session).play("goodbye.wav")
            finished.append(session.uuid)

        server = await started(handler)
        switch = AutoSwitch(CONNECT_REPLY)
        await switch.connect("127.0.0.1", server.port)
        await switch.until(4)
        stopping = asyncio.create_task(server.stop(5))
        await asyncio.sleep(0.05)
        assert not stopping.done()
        assert await eof_without_data(server.port) == b""
        release.set()
        await asyncio.wait_for(stopping, 3)
        assert finished == [CALL_UUID]
        assert switch.names()[-1] == "sendmsg execute"  # the call was handed back, not hung up

    run(main())


def test_stop_after_grace_hands_stuck_calls_back_to_the_dialplan() -> None:
    async def main() -> None:
        async def handler(session: OutboundSession) -> None:
            await asyncio.Event().wait()

        server = await started(handler)
        switch = AutoSwitch(CONNECT_REPLY)
        await switch.connect("127.0.0.1", server.port)
        await switch.until(4)
        await server.stop(0.2)
        await asyncio.wait_for(switch.closed, 2)
        assert server.active_calls == 0

    run(main())


class _TwoCompletes(AutoSwitch):
    """Answers a playback with a COMPLETE for ANOTHER playback first (same application name)."""

    def _answer(self, command: Command) -> bytes:
        if command.get("execute-app-name") == "playback":
            other = p.event_plain_bytes([
                ("Event-Name", "CHANNEL_EXECUTE_COMPLETE"), ("Unique-ID", self.uuid),
                ("Application", "playback"), ("Application-UUID", "11111111-2222-3333-4444-555555555555"),
                ("Application-Response", "FILE NOT FOUND"),
            ])
            mine = p.event_plain_bytes([
                ("Event-Name", "CHANNEL_EXECUTE_COMPLETE"), ("Unique-ID", self.uuid),
                ("Application", "playback"), ("Application-UUID", command.get("Event-UUID") or ""),
                ("Application-Response", "FILE PLAYED"),
            ])
            return other + p.command_reply_bytes("+OK") + mine
        if command.get("execute-app-name") == "sleep":
            return p.command_reply_bytes("+OK") + p.event_plain_bytes([
                ("Event-Name", "CHANNEL_HANGUP_COMPLETE"),
                ("Unique-ID", self.uuid),
                ("Hangup-Cause", "NO_ANSWER"),
            ])
        return super()._answer(command)


def test_execute_completes_by_application_uuid_and_hangup_complete_cancels() -> None:
    async def main() -> dict[str, Any]:
        got: dict[str, Any] = {}

        async def handler(session: OutboundSession) -> None:
            call = FreeSwitchCall(session)
            got["played"] = await call.play("welcome.wav")
            with pytest.raises(CallHangup) as info:
                await call.sleep(1000)
            got["cause"] = info.value.cause
            got["hung_up"] = call.hung_up

        server = await started(handler)
        switch = _TwoCompletes(CONNECT_REPLY)
        await switch.connect("127.0.0.1", server.port)
        await asyncio.wait_for(switch.closed, 3)
        await server.stop(1)
        return got

    assert run(main()) == {"played": "FILE PLAYED", "cause": "NO_ANSWER", "hung_up": True}


def test_a_peer_that_never_answers_connect_does_not_hold_a_call_slot() -> None:
    async def main() -> None:
        async def handler(session: OutboundSession) -> None:
            raise AssertionError("no handler without a channel")

        server = await started(handler, setup_timeout_s=0.1)
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        assert await asyncio.wait_for(reader.read(100), 2) == b"connect\n\n"
        assert await asyncio.wait_for(reader.read(100), 2) == b""  # given up and closed
        assert server.active_calls == 0
        writer.close()
        await server.stop(1)

    run(main())
