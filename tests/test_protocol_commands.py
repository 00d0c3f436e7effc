"""Client command builders and the FreeSWITCH-side CommandParser (what the emulator reads)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from esl_apps.esl import protocol as P

UUID = "a692e039-b880-4602-86f3-9c940960a191"


def parse_one(data: bytes) -> P.Command:
    (cmd,) = P.CommandParser().feed(data)
    return cmd


def test_simple_commands():
    assert P.connect() == b"connect\n\n"
    assert P.myevents() == b"myevents\n\n" and P.myevents("json") == b"myevents json\n\n"
    assert P.linger() == b"linger\n\n" and P.linger(30) == b"linger 30\n\n"
    assert P.nolinger() == b"nolinger\n\n" and P.exit_() == b"exit\n\n" and P.resume() == b"resume\n\n"
    assert P.auth("s3cret") == b"auth s3cret\n\n"
    assert P.api("status") == b"api status\n\n"
    assert P.api("uuid_kill", UUID) == f"api uuid_kill {UUID}\n\n".encode()
    assert (
        P.bgapi("originate", "loopback/9000/public &park()")
        == b"bgapi originate loopback/9000/public &park()\n\n"
    )
    assert P.bgapi("status", job_uuid=UUID) == f"bgapi status\nJob-UUID: {UUID}\n\n".encode()
    assert (
        P.event(["CHANNEL_CREATE", "CUSTOM", "vm::maintenance"])
        == b"event plain CHANNEL_CREATE CUSTOM vm::maintenance\n\n"
    )
    assert P.event("BACKGROUND_JOB", fmt="json") == b"event json BACKGROUND_JOB\n\n"
    assert P.nixevent(["DTMF"]) == b"nixevent DTMF\n\n" and P.noevents() == b"noevents\n\n"
    assert P.filter_("Unique-ID", UUID) == f"filter Unique-ID {UUID}\n\n".encode()
    assert P.filter_delete("Unique-ID", UUID) == f"filter delete Unique-ID {UUID}\n\n".encode()
    assert P.filter_delete("Unique-ID") == b"filter delete Unique-ID\n\n"
    assert (
        P.divert_events(True) == b"divert_events on\n\n"
        and P.divert_events(False) == b"divert_events off\n\n"
    )
    assert P.getvar("ivr_choice") == b"getvar ivr_choice\n\n"
    assert P.log("notice") == b"log notice\n\n" and P.log(7) == b"log 7\n\n" and P.nolog() == b"nolog\n\n"


def test_sendmsg_execute_header_order_matches_the_traces():
    assert P.sendmsg_execute("answer") == (
        b"sendmsg\ncall-command: execute\nexecute-app-name: answer\nevent-lock: true\n\n"
    )
    assert P.sendmsg_execute("playback", "tone_stream://%(1000,0,440);loops=20", event_uuid=UUID) == (
        b"sendmsg\ncall-command: execute\nexecute-app-name: playback\n"
        b"execute-app-arg: tone_stream://%(1000,0,440);loops=20\nevent-lock: true\n"
        b"Event-UUID: " + UUID.encode() + b"\n\n"
    )
    wire = P.sendmsg_execute("playback", "x.wav", uuid=UUID, event_lock=False, loops=3, async_=True)
    assert (
        wire
        == (
            f"sendmsg {UUID}\ncall-command: execute\nexecute-app-name: playback\n"
            "execute-app-arg: x.wav\nloops: 3\nasync: true\n\n"
        ).encode()
    )


def test_long_or_multiline_argument_goes_in_a_text_plain_body():
    arg = "line one\nline two ☎"
    wire = P.sendmsg_execute("log", arg, event_uuid=UUID)
    assert wire.endswith(
        b"content-type: text/plain\ncontent-length: %d\n\n%b" % (len(arg.encode()), arg.encode())
    )
    assert b"execute-app-arg" not in wire
    cmd = parse_one(wire)
    assert cmd.body.decode() == arg and cmd.get("Content-Type") == "text/plain"
    assert cmd.get("event-uuid") == UUID  # FreeSWITCH looks headers up ignoring case

    long_arg = "x" * (P.INLINE_ARG_MAX_BYTES + 1)
    assert parse_one(P.sendmsg_execute("set", long_arg)).body == long_arg.encode()
    at_limit = "y" * P.INLINE_ARG_MAX_BYTES
    assert parse_one(P.sendmsg_execute("set", at_limit)).get("execute-app-arg") == at_limit
    # FreeSWITCH strips leading blanks of header values, so such an argument must travel as a body too.
    assert parse_one(P.sendmsg_execute("log", "  indented")).body == b"  indented"


def test_sendmsg_hangup_and_generic():
    assert P.sendmsg_hangup() == b"sendmsg\ncall-command: hangup\nhangup-cause: NORMAL_CLEARING\n\n"
    assert P.sendmsg_hangup("USER_BUSY", UUID) == (
        f"sendmsg {UUID}\ncall-command: hangup\nhangup-cause: USER_BUSY\n\n".encode()
    )
    assert P.sendmsg("unicast", [("local-ip", "127.0.0.1"), ("local-port", "8025")]) == (
        b"sendmsg\ncall-command: unicast\nlocal-ip: 127.0.0.1\nlocal-port: 8025\n\n"
    )
    assert P.sendmsg("nomedia", [("nomedia-uuid", UUID)], uuid=UUID).startswith(f"sendmsg {UUID}\n".encode())
    assert P.sendevent("CUSTOM", [("Event-Subclass", "esl::test")], "hi") == (
        b"sendevent CUSTOM\nEvent-Subclass: esl::test\ncontent-length: 2\n\nhi"
    )


@pytest.mark.parametrize(
    "build",
    [
        lambda: P.api("status\nexit"),
        lambda: P.api("status", "x\r\nexit"),
        lambda: P.bgapi("originate", "a\nb"),
        lambda: P.bgapi("status", job_uuid="x\ny"),
        lambda: P.filter_("Unique-ID", "x\n\nexit"),
        lambda: P.getvar("a b"),
        lambda: P.getvar(""),
        lambda: P.auth("pw\n\nexit"),
        lambda: P.auth(""),
        lambda: P.event([]),
        lambda: P.event(["A\nB"]),
        lambda: P.event(["X"], fmt="yaml"),
        lambda: P.myevents("csv"),
        lambda: P.linger(-1),
        lambda: P.api(""),
        lambda: P.sendmsg_execute("play back"),
        lambda: P.sendmsg_execute("playback", "a\x00b"),
        lambda: P.sendmsg_execute("playback", "x", uuid="bad uuid"),
        lambda: P.sendmsg_execute("playback", "x", event_uuid="a\nb"),
        lambda: P.sendmsg_execute("playback", "x", loops=0),
        lambda: P.sendmsg_hangup("NORMAL\nexit"),
        lambda: P.sendmsg("execute", [("execute-app-name", "hangup\n\nexit")]),
        lambda: P.sendmsg("execute", [("bad:name", "x")]),
        lambda: P.sendmsg("execute", [("Content-Length", "5")]),
        lambda: P.command_bytes("api status\n"),
    ],
)
def test_newline_injection_and_invalid_commands_raise_local_errors(build):
    with pytest.raises(P.LocalProtocolError):
        build()


def test_command_parser_follows_freeswitch_read_packet():
    data = (
        b"\r\n\nsendmsg\r\nthis line has no colon\r\ncall-command:   execute\r\n"
        b"execute-app-name: log\r\nexecute-app-arg: NOTICE hi\r\n\r\n"
        b"API Status\n\n"
        b"filter delete Unique-ID x\n\n"
    )
    cmds = P.CommandParser().feed(data)
    assert [(c.name, c.args) for c in cmds] == [
        ("sendmsg", ""),
        ("api", "Status"),
        ("filter", "delete Unique-ID x"),
    ]
    assert cmds[0].headers == {
        "call-command": "execute",
        "execute-app-name": "log",
        "execute-app-arg": "NOTICE hi",
    }
    assert cmds[1].line == "api Status"


def test_command_parser_body_and_splits():
    wire = P.sendmsg_execute("log", "multi\nline", event_uuid=UUID) + P.exit_()
    expected = P.CommandParser().feed(wire)
    assert [c.name for c in expected] == ["sendmsg", "exit"]
    for size in (1, 2, 3, 7, 50):
        parser, got = P.CommandParser(), []
        for i in range(0, len(wire), size):
            got += parser.feed(wire[i : i + size])
        assert got == expected


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.lists(st.integers(1, 32), min_size=1, max_size=6))
def test_fuzz_command_parser_raises_only_protocol_errors(data, splits):
    parser = P.CommandParser()
    pos = i = 0
    try:
        while pos < len(data):
            for cmd in parser.feed(data[pos : pos + splits[i % len(splits)]]):
                assert isinstance(cmd.name, str) and isinstance(cmd.body, bytes)
            pos += splits[i % len(splits)]
            i += 1
    except P.ProtocolError:
        pass


safe_text = st.text(st.characters(blacklist_characters="\r\n\x00", blacklist_categories=("Cs",)), max_size=60)


@settings(max_examples=200, deadline=None)
@given(
    app=st.from_regex(r"[a-z_]{1,20}", fullmatch=True),
    arg=st.one_of(
        st.none(),
        st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=3000),
    ),
    event_uuid=st.one_of(st.none(), st.uuids().map(str)),
    lock=st.booleans(),
)
def test_fuzz_sendmsg_execute_parses_back(app, arg, event_uuid, lock):
    cmd = parse_one(P.sendmsg_execute(app, arg, event_uuid=event_uuid, event_lock=lock))
    assert cmd.name == "sendmsg" and cmd.get("execute-app-name") == app
    sent_arg = cmd.get("execute-app-arg")
    if sent_arg is None and cmd.body:
        sent_arg = cmd.body.decode()
    assert (sent_arg or None) == (arg or None)
    assert cmd.get("Event-UUID") == event_uuid
    assert (cmd.get("event-lock") == "true") is lock


@settings(max_examples=200, deadline=None)
@given(st.from_regex(r"[a-z_]{1,12}", fullmatch=True), safe_text)
def test_fuzz_api_round_trip(command, args):
    cmd = parse_one(P.api(command, args))
    assert cmd.name == "api"
    assert cmd.args == (f"{command} {args}" if args else command)
