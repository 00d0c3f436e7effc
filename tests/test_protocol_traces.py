"""The protocol core against every recorded FreeSWITCH conversation, byte for byte.

Oracle: each `<<< received` block of a trace is exactly one message, so parsing a connection's concatenated
stream (whole, or in arbitrary splits) must give one message per block, equal to parsing that block alone.
Every received message must re-serialise through the FreeSWITCH-side serialisers to the recorded bytes, and
every `>>> sent` command must be rebuilt byte for byte by the client-side builders from its parsed form.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from esl_apps.esl import protocol as P
from esl_apps.esl.tracefile import TraceSection, read_trace

TRACE_DIR = Path(__file__).parent / "fixtures" / "esl-traces"
TRACE_FILES = sorted(TRACE_DIR.glob("*.txt"))
_CACHE: dict[Path, list[TraceSection]] = {}


def sections(path: Path) -> list[TraceSection]:
    if path not in _CACHE:
        _CACHE[path] = read_trace(path)
    return _CACHE[path]


def streams(path: Path) -> list[list[bytes]]:
    """Received messages of each connection of each section, in order."""
    out = []
    for section in sections(path):
        for conn in section.connections:
            msgs = [e.data for e in section.messages("received", conn)]
            if msgs:
                out.append(msgs)
    return out


def all_entries(kind: str):
    for path in TRACE_FILES:
        for section in sections(path):
            for entry in section.entries:
                if entry.kind == kind:
                    yield path.name, section.title, entry


def test_fixture_set_is_complete():
    names = {p.name for p in TRACE_FILES}
    assert len(names) == 19
    assert {"01-outbound-basic.txt", "07-inbound.txt", "08-voicemail.txt"} <= names


@pytest.mark.parametrize("path", TRACE_FILES, ids=lambda p: p.stem)
def test_every_received_block_is_exactly_one_message(path):
    expected_types = {
        b"auth/request": P.AuthRequest,
        b"command/reply": P.CommandReply,
        b"api/response": P.ApiResponse,
        b"text/event-plain": P.Event,
        b"text/disconnect-notice": P.DisconnectNotice,
        b"log/data": P.LogData,
    }
    for msgs in streams(path):
        whole = P.EslParser().feed(b"".join(msgs))
        assert len(whole) == len(msgs)
        for data, msg in zip(msgs, whole, strict=True):
            assert P.EslParser().feed(data) == [msg]
            ctype = next(
                line.split(b": ", 1)[1] for line in data.split(b"\n") if line.startswith(b"Content-Type: ")
            )
            assert type(msg) is expected_types[ctype]


@pytest.mark.parametrize("path", TRACE_FILES, ids=lambda p: p.stem)
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_split_reads_give_the_same_messages(path, data):
    chunk_sizes = data.draw(st.lists(st.integers(1, 9000), min_size=1, max_size=40))
    for msgs in streams(path):
        stream = b"".join(msgs)
        expected = P.EslParser().feed(stream)
        parser, got, pos, i = P.EslParser(), [], 0, 0
        while pos < len(stream):
            size = chunk_sizes[i % len(chunk_sizes)]
            got += parser.feed(stream[pos : pos + size])
            pos, i = pos + size, i + 1
        assert got == expected
        assert parser.buffered == 0


def test_byte_by_byte_feed():
    (msgs,) = streams(TRACE_DIR / "01-outbound-basic.txt")
    stream = b"".join(msgs)
    parser = P.EslParser()
    got = []
    for i in range(len(stream)):
        got += parser.feed(stream[i : i + 1])
    assert got == P.EslParser().feed(stream)
    assert len(got) == len(msgs)


def _naive_headers(payload: str) -> list[tuple[str, str]]:
    head = payload.split("\n\n", 1)[0]
    return [(n, unquote(v)) for n, v in (line.split(": ", 1) for line in head.split("\n"))]


def test_event_values_match_an_independent_per_line_decoder():
    checked = 0
    for _, _, entry in all_entries("received"):
        if not entry.data.startswith(b"Content-Length"):
            continue
        (event,) = P.EslParser().feed(entry.data)
        payload = entry.data.split(b"\n\n", 1)[1].decode()
        expected = [(n, v) for n, v in _naive_headers(payload) if n != "Content-Length"]
        assert event.header_items() == expected
        assert dict(event.headers) == dict(expected)
        checked += 1
    assert checked > 700


def reserialise(msg: P.Message) -> bytes:
    """FreeSWITCH-side serialisers fed from the parsed value only."""
    if isinstance(msg, P.AuthRequest):
        return P.auth_request_bytes()
    if isinstance(msg, P.Event):
        return P.event_plain_bytes(msg.header_items(), msg.body)
    if isinstance(msg, P.ApiResponse):
        return P.api_response_bytes(msg.body)
    if isinstance(msg, P.CommandReply):
        items = list(msg.headers.items())
        if items[0][0] != "Content-Type":  # outbound connect reply
            assert [k for k, _ in items[-4:]] == ["Content-Type", "Reply-Text", "Socket-Mode", "Control"]
            return P.connect_reply_bytes(items[:-4], msg.headers["Socket-Mode"], msg.headers["Control"])
        extra = [(k, v) for k, v in items if k not in ("Content-Type", "Reply-Text")]
        return P.command_reply_bytes(msg.reply_text, extra)
    if isinstance(msg, P.DisconnectNotice):
        h = msg.headers
        linger_time = int(h["Linger-Time"]) if "Linger-Time" in h else -1
        return P.disconnect_notice_bytes(
            msg.disposition, h.get("Controlled-Session-UUID"), h.get("Channel-Name"), linger_time
        )
    if isinstance(msg, P.LogData):
        return P.log_data_bytes(msg.headers, msg.body)
    raise AssertionError(f"unexpected message {msg!r}")


@pytest.mark.parametrize("path", TRACE_FILES, ids=lambda p: p.stem)
def test_received_messages_reserialise_byte_for_byte(path):
    for msgs in streams(path):
        for data in msgs:
            (msg,) = P.EslParser().feed(data)
            assert reserialise(msg) == data


def rebuild(cmd: P.Command) -> bytes:
    """Client-side builder call derived from the parsed command (what an application would have called)."""
    name, args, h = cmd.name, cmd.args, cmd.headers
    simple = {
        "connect": P.connect,
        "exit": P.exit_,
        "resume": P.resume,
        "noevents": P.noevents,
        "nolinger": P.nolinger,
        "nolog": P.nolog,
    }
    if name in simple:
        assert not args
        return simple[name]()
    if name == "linger":
        return P.linger(int(args) if args else None)
    if name == "myevents":
        return P.myevents(args or "plain")
    if name == "auth":
        return P.auth(args)
    if name in ("api", "bgapi"):
        command, _, rest = args.partition(" ")
        return P.api(command, rest) if name == "api" else P.bgapi(command, rest, h.get("Job-UUID"))
    if name == "event":
        fmt, _, names = args.partition(" ")
        return P.event(names.split(), fmt)
    if name == "filter":
        words = args.split(" ", 2)
        if words[0] == "delete":
            return P.filter_delete(words[1], words[2] if len(words) > 2 else None)
        header, value = args.split(" ", 1)
        return P.filter_(header, value)
    if name == "getvar":
        return P.getvar(args)
    if name == "log":
        return P.log(args)
    if name == "sendmsg":
        uuid = args or None
        if h.get("call-command") == "execute" and "execute-app-name" in h:
            return P.sendmsg_execute(
                h["execute-app-name"],
                h.get("execute-app-arg"),
                uuid=uuid,
                event_lock=h.get("event-lock") == "true",
                event_uuid=h.get("Event-UUID"),
            )
        if h.get("call-command") == "hangup":
            return P.sendmsg_hangup(h["hangup-cause"], uuid)
        return P.sendmsg(h["call-command"], [(k, v) for k, v in h.items() if k != "call-command"], uuid)
    raise LookupError(name)


# Deliberately malformed commands of 06c: the typed builders refuse them, the raw builder reproduces them.
MALFORMED = {b"foobar\n\n", b"api\n\n", b"event\n\n", b"filter\n\n", b"getvar\n\n", b"linger abc\n\n"}
NO_COLON_LINE = b"this header line has no colon\n"


def test_sent_commands_rebuild_byte_for_byte():
    rebuilt = odd = 0
    for _, _, entry in all_entries("sent"):
        (cmd,) = P.CommandParser().feed(entry.data)
        if entry.data in MALFORMED:
            with pytest.raises((P.LocalProtocolError, LookupError, ValueError)):
                rebuild(cmd)
            assert P.command_bytes(cmd.line) == entry.data
            odd += 1
            continue
        if NO_COLON_LINE in entry.data:
            # FreeSWITCH ignores the line; everything else of the sendmsg survives.
            assert "call-command" in cmd.headers and len(cmd.headers) == 3
            assert rebuild(cmd) == entry.data.replace(NO_COLON_LINE, b"")
            odd += 1
            continue
        assert rebuild(cmd) == entry.data
        rebuilt += 1
    assert (rebuilt, odd) == (329, 7)  # every sent block of every trace


def test_trace_facts_survive_parsing():
    """A few facts of the traces README, read through the public message API."""
    (basic,) = sections(TRACE_DIR / "01-outbound-basic.txt")
    msgs = P.EslParser().feed(b"".join(e.data for e in basic.messages("received")))
    connect = msgs[0]
    assert isinstance(connect, P.CommandReply) and connect.ok and connect.reply_text == "+OK"
    assert connect.headers["Channel-Name"] == "sofia/external/5551000@127.0.0.1:5070"
    assert connect.headers["Socket-Mode"] == "async" and connect.headers["Control"] == "full"
    events = [m for m in msgs if isinstance(m, P.Event)]
    playback = next(e for e in events if e.name == "CHANNEL_EXECUTE" and e.get("Application") == "playback")
    assert playback.get("Application-Data") == "tone_stream://%(1000,0,440);loops=20"
    assert playback.application_uuid == "a692e039-b880-4602-86f3-9c940960a191"
    done = next(
        e for e in events if e.name == "CHANNEL_EXECUTE_COMPLETE" and e.get("Application") == "playback"
    )
    assert done.get("Application-Response") == "PLAYBACK ERROR"
    assert done.uuid == connect.headers["Unique-ID"]
    linger, _bye, goodbye = msgs[-3:]
    assert isinstance(linger, P.DisconnectNotice) and linger.linger and linger.headers["Linger-Time"] == "-1"
    assert isinstance(goodbye, P.DisconnectNotice) and goodbye.disposition == "disconnect"
    assert goodbye.body == P.GOODBYE

    dtmf = sections(TRACE_DIR / "02-outbound-dtmf.txt")[0]
    events = [
        m
        for m in P.EslParser().feed(b"".join(e.data for e in dtmf.messages("received")))
        if isinstance(m, P.Event)
    ]
    assert [e.get("DTMF-Digit") for e in events if e.name == "DTMF"] == ["1", "2", "#"]
    result = next(
        e
        for e in events
        if e.get("Application") == "play_and_get_digits" and e.name == "CHANNEL_EXECUTE_COMPLETE"
    )
    assert result.variable("ivr_choice") == "12" and result.variable("read_terminator_used") == "#"


def test_background_job_of_trace_07():
    inbound = sections(TRACE_DIR / "07-inbound.txt")[0]
    msgs = P.EslParser().feed(b"".join(e.data for e in inbound.messages("received")))
    bgapi_replies = [m for m in msgs if isinstance(m, P.CommandReply) and m.job_uuid]
    assert len(bgapi_replies) == 3
    assert all(m.reply_text == f"+OK Job-UUID: {m.job_uuid}" for m in bgapi_replies)
    jobs = [m for m in msgs if isinstance(m, P.Event) and m.name == "BACKGROUND_JOB"]
    # Only the bgapis sent after `event plain BACKGROUND_JOB` get one.
    assert [j.get("Job-UUID") for j in jobs] == [r.job_uuid for r in bgapi_replies[1:]]
    job = jobs[0]
    assert job.get("Job-Command") == "originate"
    assert job.get("Job-Command-Arg") == "loopback/9000/public &park()"
    assert job.body.startswith("+OK ") and job.body.endswith("\n") and len(job.body.encode()) == 41
    assert "Content-Length" not in job.headers
