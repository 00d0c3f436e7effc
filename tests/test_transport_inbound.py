"""InboundClient: the recorded inbound session (07), wrong password, refused connection, reconnect with
re-subscription and re-filtering after FreeSWITCH restarts."""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any

import pytest

from esl_apps.call import CallCommandError
from esl_apps.esl.inbound import AuthenticationError, InboundClient
from esl_apps.esl.protocol import Command, Event
from esl_apps.esl.tracefile import read_trace
from tests.conftest import FIXTURES
from tests.support.trace_replay import FakeInboundSwitch, TraceReplay

SESSION, WRONG_PASSWORD = read_trace(FIXTURES / "esl-traces" / "07-inbound.txt")
LOOPBACK_A = "e44c4e2a-67bf-4d98-baa1-baff5c907485"


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 20))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_recorded_inbound_session() -> None:
    # Our bgapi subscribes BACKGROUND_JOB itself, so the recording's first bgapi (made before that
    # subscription, to show its result is lost) is omitted; its events are still delivered.
    omitted: list[str] = []

    def omit(command: Command) -> bool:
        if command.line == "bgapi originate loopback/9000/public &park()" and not omitted:
            omitted.append(command.line)
            return True
        return False

    async def main() -> dict[str, Any]:
        got: dict[str, Any] = {"events": []}
        replay = TraceReplay(SESSION, omit=omit)
        port, done = await replay.serve_inbound()
        client = InboundClient("127.0.0.1", port, "ClueCon", reconnect=False)
        client.on_event(lambda e: got["events"].append(e))
        iterated: list[str] = []

        async def consume() -> None:
            async for event in client.events():
                iterated.append(event.name)

        consumer = asyncio.create_task(consume())
        await client.connect()
        got["status"] = await client.api("status")
        await client.subscribe("CHANNEL_CREATE CHANNEL_ANSWER CHANNEL_HANGUP_COMPLETE DTMF CUSTOM")
        got["job1"] = await client.bgapi("originate", "loopback/9000/public &park()", timeout=5)
        got["job2"] = await client.bgapi("originate", "loopback/9002/public &park()", timeout=5)
        got["dtmf"] = await client.api("uuid_send_dtmf", f"{LOOPBACK_A} 12")
        await client.add_filter("Unique-ID", LOOPBACK_A)
        got["kill"] = await client.api("uuid_kill", LOOPBACK_A)
        await client.remove_filter("Unique-ID", LOOPBACK_A)
        got["no_channel"] = await client.api("uuid_kill", "00000000-0000-0000-0000-000000000000")
        got["no_command"] = await client.api("no_such_command", "foo")
        got["count"] = await client.api("show", "calls count")
        await client.unsubscribe_all()
        await client.close()
        await asyncio.wait_for(consumer, 2)  # the iterator ends when the client closes
        await done
        got.update(replay=replay, iterated=iterated)
        return got

    got = run(main())
    replay = got["replay"]
    assert replay.errors == [] and omitted
    assert got["status"].ok and got["status"].body.startswith("UP 0 years")
    jobs = [e for e in got["events"] if e.name == "BACKGROUND_JOB"]
    sent_jobs = [c.get("Job-UUID") for c in replay.commands if c.name == "bgapi"]
    assert [e.get("Job-UUID") for e in jobs] == sent_jobs
    assert got["job1"].startswith("+OK ") and got["job2"] == f"+OK {LOOPBACK_A}\n"
    assert got["dtmf"].body == f"+OK {LOOPBACK_A} sent DTMF 12.\n"
    dtmf = [(e.get("DTMF-Digit"), e.get("DTMF-Source")) for e in got["events"] if e.name == "DTMF"]
    assert dtmf == [("1", "UNKNOWN"), ("2", "UNKNOWN")]
    assert got["kill"].body == "+OK\n"
    hangups = [e.uuid for e in got["events"] if e.name == "CHANNEL_HANGUP_COMPLETE"]
    assert hangups[-1] == LOOPBACK_A
    assert (got["no_channel"].ok, got["no_command"].ok) == (False, False)
    assert got["count"].body == "\n0 total.\n"
    assert got["iterated"] == [e.name for e in got["events"]]
    assert [c.line for c in replay.commands][-2:] == ["noevents", "exit"]


def test_wrong_password_is_a_clear_error(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> AuthenticationError:
        replay = TraceReplay(WRONG_PASSWORD, omit=lambda c: c.line == "api status")
        port, done = await replay.serve_inbound()
        client = InboundClient("127.0.0.1", port, "WrongPassword")
        with pytest.raises(AuthenticationError) as info:
            await client.connect()
        await done
        assert replay.errors == []
        assert not client.connected
        return info.value

    with caplog.at_level(logging.DEBUG):
        error = run(main())
    assert "rejected the ESL password" in str(error) and "-ERR invalid" in str(error)
    assert "WrongPassword" not in str(error)
    assert all("WrongPassword" not in r.getMessage() for r in caplog.records)


def test_refused_connection_is_a_connection_error() -> None:
    async def main() -> None:
        client = InboundClient("127.0.0.1", free_port(), "secret")
        with pytest.raises(ConnectionError):
            await client.connect()

    run(main())


def test_reconnects_and_restores_subscriptions_and_filters() -> None:
    async def main() -> None:
        switch = FakeInboundSwitch("s3cret")
        await switch.start()
        client = InboundClient("127.0.0.1", switch.port, "s3cret", backoff_initial_s=0.02, backoff_max_s=0.1)
        await client.connect()
        await client.subscribe(["CHANNEL_HANGUP_COMPLETE"])
        await client.subscribe(["CUSTOM", "vm::maintenance"])
        await client.add_filter("Caller-Caller-ID-Number", "5551000")
        received: list[Event] = []
        got_event = asyncio.Event()

        def on_event(event: Event) -> None:
            received.append(event)
            got_event.set()

        client.on_event(on_event)

        await switch.stop()  # FreeSWITCH restarts
        await asyncio.sleep(0.15)  # a few failed attempts with backoff
        with pytest.raises(ConnectionError):
            await client.api("status")
        await switch.start()
        await client.wait_connected(timeout=5)
        await switch.until(4)

        assert [c.line for c in switch.connections[-1]] == [
            "auth s3cret",
            "event plain CHANNEL_HANGUP_COMPLETE",
            "event plain CUSTOM vm::maintenance",
            "filter Caller-Caller-ID-Number 5551000",
        ]
        assert client.reconnects == 1
        switch.emit([("Event-Name", "CHANNEL_HANGUP_COMPLETE"), ("Unique-ID", "u-1")])
        await asyncio.wait_for(got_event.wait(), 2)
        assert received[-1].uuid == "u-1"
        assert await client.bgapi("status", timeout=2) == "+OK done\n"
        await client.close()
        await switch.stop()

    run(main())


def test_wrong_password_after_a_restart_stops_reconnecting() -> None:
    async def main() -> None:
        switch = FakeInboundSwitch("old")
        await switch.start()
        client = InboundClient("127.0.0.1", switch.port, "old", backoff_initial_s=0.02)
        await client.connect()
        ended = asyncio.create_task(anext(aiter(client.events()), None))
        await asyncio.sleep(0)
        await switch.stop()
        switch.password = "new"
        await switch.start()
        assert await asyncio.wait_for(ended, 3) is None  # event iteration ends: the client gave up
        assert not client.connected
        with pytest.raises(ConnectionError):
            await client.api("status")
        await client.close()
        await switch.stop()

    run(main())


def test_rejected_command_on_inbound_raises() -> None:
    async def main() -> None:
        switch = FakeInboundSwitch("pw")
        await switch.start()
        client = InboundClient("127.0.0.1", switch.port, "pw")
        await client.connect()
        switch.refuse["event plain NOT_AN_EVENT"] = "-ERR no keywords supplied"
        with pytest.raises(CallCommandError) as info:
            await client.subscribe(["NOT_AN_EVENT"])
        assert info.value.reply_text == "-ERR no keywords supplied"
        await client.close()
        await switch.stop()

    run(main())
