"""EslParser (FreeSWITCH -> client) beyond the recorded traces: framing edge cases, decoding, errors, fuzz."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from esl_apps.esl import protocol as P

UUID = "3a8e0f21-677c-4e3c-b7cc-6d6d8c078af7"


def one(data: bytes) -> P.Message:
    (msg,) = P.EslParser().feed(data)
    return msg


def test_encoded_newline_inside_a_value_does_not_split_the_event():
    # greenswitch decodes the whole payload before splitting lines and breaks exactly here.
    wire = P.event_plain_bytes(
        [
            ("Event-Name", "CHANNEL_EXECUTE"),
            ("variable_switch_r_sdp", "v=0\r\no=- 1 2 IN IP4 1.2.3.4\r\nFake-Header: injected\r\n"),
            ("Unique-ID", UUID),
        ]
    )
    assert b"%0D%0AFake-Header%3A%20injected" in wire
    event = one(wire)
    assert isinstance(event, P.Event)
    assert list(event.headers) == ["Event-Name", "variable_switch_r_sdp", "Unique-ID"]
    assert event.variable("switch_r_sdp").endswith("Fake-Header: injected\r\n")
    assert "Fake-Header" not in event.headers
    assert event.uuid == UUID


def test_multibyte_utf8_body_is_counted_in_bytes():
    body = "Résultat: café ☎ 電話\n"
    wire = P.event_plain_bytes([("Event-Name", "BACKGROUND_JOB"), ("Job-UUID", UUID)], body)
    assert f"Content-Length: {len(body.encode())}\n\n".encode() in wire
    assert len(body.encode()) > len(body)
    # Counting characters instead of bytes would swallow or cut into the following message.
    event, api = P.EslParser().feed(wire + P.api_response_bytes("Grüße\n"))
    assert event.body == body
    assert api == P.ApiResponse("Grüße\n")


def test_multibyte_header_values_are_percent_encoded_utf8():
    wire = P.event_plain_bytes([("Event-Name", "CHANNEL_CREATE"), ("Caller-Caller-ID-Name", "Zoë Müller")])
    assert b"Zo%C3%AB%20M%C3%BCller" in wire
    assert one(wire).get("Caller-Caller-ID-Name") == "Zoë Müller"


def test_background_job_with_inner_body():
    payload = (
        b"Event-Name: BACKGROUND_JOB\nJob-UUID: 2a10ff2c\nJob-Command: originate\n"
        b"Job-Command-Arg: loopback/9000/public%20%26park()\nContent-Length: 41\n\n"
        b"+OK 22f6df8b-cf75-41ac-af1f-7620309ac3c3\n"
    )
    wire = b"Content-Length: %d\nContent-Type: text/event-plain\n\n%b" % (len(payload), payload)
    event = one(wire)
    assert event.name == "BACKGROUND_JOB"
    assert event.get("Job-Command-Arg") == "loopback/9000/public &park()"
    assert event.body == "+OK 22f6df8b-cf75-41ac-af1f-7620309ac3c3\n"
    assert "Content-Length" not in event.headers


def test_many_messages_in_one_read_and_leading_newlines():
    data = (
        b"\r\n\n"
        + P.auth_request_bytes()
        + b"\n"
        + P.command_reply_bytes("+OK accepted")
        + P.command_reply_bytes("+OK Job-UUID: abc", [("Job-UUID", "abc")])
        + P.api_response_bytes("-ERR no_such_command Command not found!\n")
        + P.api_response_bytes("-USAGE: <uuid> [cause]\n")
        + P.rude_rejection_bytes()
    )
    msgs = P.EslParser().feed(data)
    assert msgs[0] == P.AuthRequest()
    assert msgs[1].ok and msgs[1].reply_text == "+OK accepted"
    assert msgs[2].job_uuid == "abc"
    assert not msgs[3].ok and not msgs[4].ok
    assert msgs[5] == P.RudeRejection("Access Denied, go away.\n")


def test_command_reply_text_is_not_url_decoded():
    # getvar returns the raw value; only the connect reply is an encoded event.
    reply = one(P.command_reply_bytes("tone_stream://%(1000,0,440)%20"))
    assert reply.reply_text == "tone_stream://%(1000,0,440)%20"
    assert not one(P.command_reply_bytes("-ERR command not found")).ok


def test_connect_reply_is_decoded():
    wire = P.connect_reply_bytes(
        [
            ("Event-Name", "CHANNEL_DATA"),
            ("Unique-ID", UUID),
            ("Channel-Name", "sofia/external/100@10.0.0.1:5060"),
        ]
    )
    assert b"Reply-Text: %2BOK%0A\n" in wire and b"Content-Length" not in wire
    reply = one(wire)
    assert reply.ok and reply.reply_text == "+OK"
    assert reply.headers["Channel-Name"] == "sofia/external/100@10.0.0.1:5060"


def test_event_json_is_parsed_into_the_same_event():
    headers = [
        ("Event-Name", "CUSTOM"),
        ("Event-Subclass", "vm::maintenance"),
        ("Unique-ID", UUID),
        ("variable_originate_causes", "ARRAY::a;NONE|:b;LOSE_RACE"),
    ]
    wire = P.event_json_bytes(headers, "body ☎")
    payload = json.loads(wire.split(b"\n\n", 1)[1])
    assert payload["variable_originate_causes"] == ["a;NONE", "b;LOSE_RACE"]
    assert payload["Content-Length"] == str(len("body ☎".encode()))
    event = one(wire)
    assert event.name == "CUSTOM" and event.subclass == "vm::maintenance"
    assert event.header_items() == headers and event.body == "body ☎"
    plain = one(P.event_plain_bytes(headers, "body ☎"))
    assert plain == event


def test_unknown_content_type_is_returned_not_raised():
    msg = one(b"Content-Type: text/event-xml\nContent-Length: 7\n\n<event>")
    assert msg == P.UnknownMessage(
        "text/event-xml", {"Content-Type": "text/event-xml", "Content-Length": "7"}, b"<event>"
    )


def test_log_data_headers_and_body():
    wire = P.log_data_bytes(
        [
            ("Log-Level", "3"),
            ("Text-Channel", "3"),
            ("Log-File", "mod_event_socket.c"),
            ("Log-Func", "socket_function"),
            ("Log-Line", "490"),
            ("User-Data", UUID),
        ],
        "[ERR] Socket Error!\n",
    )
    assert wire.startswith(b"Content-Type: log/data\nContent-Length: 20\nLog-Level: 3\n")
    msg = one(wire)
    assert msg.headers["Log-Func"] == "socket_function" and msg.body == "[ERR] Socket Error!\n"


@pytest.mark.parametrize("length", [b"abc", b"-1", b"1e3", b"0x10", b"", b"\xd9\xa3"])
def test_bad_content_length_is_a_remote_error(length):
    parser = P.EslParser()
    good = P.command_reply_bytes("+OK")
    with pytest.raises(P.RemoteProtocolError) as err:
        parser.feed(good + b"Content-Type: api/response\nContent-Length: " + length + b"\n\nxyz")
    assert err.value.messages == [
        P.CommandReply("+OK", {"Content-Type": "command/reply", "Reply-Text": "+OK"})
    ]
    with pytest.raises(P.RemoteProtocolError):  # the stream cannot be re-synchronised
        parser.feed(good)


def test_oversized_frames_are_refused():
    with pytest.raises(P.RemoteProtocolError, match="exceeds"):
        P.EslParser().feed(b"Content-Type: api/response\nContent-Length: %d\n\n" % (16 * 1024 * 1024 + 1))
    parser = P.EslParser(max_frame_bytes=1000)
    parser.feed(b"Content-Type: api/response\n")
    with pytest.raises(P.RemoteProtocolError, match="header block"):
        parser.feed(b"X-Filler: " + b"x" * 1000)


def test_inner_content_length_larger_than_payload_is_an_error():
    payload = b"Event-Name: BACKGROUND_JOB\nContent-Length: 50\n\nshort"
    with pytest.raises(P.RemoteProtocolError):
        P.EslParser().feed(
            b"Content-Length: %d\nContent-Type: text/event-plain\n\n%b" % (len(payload), payload)
        )


def test_invalid_json_event_is_an_error():
    with pytest.raises(P.RemoteProtocolError, match="json"):
        P.EslParser().feed(b"Content-Length: 5\nContent-Type: text/event-json\n\n{nope")


def test_close_inside_a_message_is_reported():
    parser = P.EslParser()
    assert parser.feed(b"Content-Type: api/response\nContent-Length: 10\n\n+OK") == []
    assert parser.buffered > 0
    with pytest.raises(P.RemoteProtocolError, match="closed inside"):
        parser.close()
    P.EslParser().close()  # nothing pending: fine


def test_invalid_utf8_in_values_is_replaced_not_fatal():
    payload = b"Event-Name: CHANNEL_CREATE\nCaller-Caller-ID-Name: Zo%EB\n\n"
    event = one(b"Content-Length: %d\nContent-Type: text/event-plain\n\n%b" % (len(payload), payload))
    assert event.get("Caller-Caller-ID-Name") == "Zo\ufffd"


def test_headers_mapping_behaves_like_a_read_only_dict():
    event = one(P.event_plain_bytes([("Event-Name", "DTMF"), ("DTMF-Digit", "#"), ("Empty", "")]))
    h = event.headers
    assert h["DTMF-Digit"] == "#" and h.get("DTMF-Digit") == "#" and h.get("missing", "x") == "x"
    assert h["Empty"] == "_undef_"  # FreeSWITCH sends empty values as _undef_
    assert "DTMF-Digit" in h and len(h) == 3
    assert dict(h) == {"Event-Name": "DTMF", "DTMF-Digit": "#", "Empty": "_undef_"}
    assert h.raw()["DTMF-Digit"] == "%23"
    with pytest.raises(KeyError):
        h["missing"]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600), st.lists(st.integers(1, 64), min_size=1, max_size=8))
def test_fuzz_parser_raises_only_protocol_errors(data, splits):
    parser = P.EslParser(max_frame_bytes=4096)
    pos = i = 0
    try:
        while pos < len(data):
            parser.feed(data[pos : pos + splits[i % len(splits)]])
            pos += splits[i % len(splits)]
            i += 1
        parser.close()
    except P.ProtocolError:
        pass


message_headers = st.lists(
    st.tuples(
        st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,20}", fullmatch=True).filter(lambda n: n != "Content-Length"),
        st.text(max_size=40),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=200, deadline=None)
@given(message_headers, st.one_of(st.none(), st.text(min_size=1, max_size=80)))
def test_fuzz_event_round_trip(headers, body):
    headers = [("Event-Name", "CUSTOM"), *headers]
    event = one(P.event_plain_bytes(headers, body))
    expected = [(n, P.url_decode(P.url_encode(v)) or "_undef_") for n, v in headers]
    assert event.header_items() == expected
    assert event.body == body


@pytest.mark.parametrize(
    "build",
    [
        lambda: P.command_reply_bytes("+OK\nContent-Type: api/response"),
        lambda: P.command_reply_bytes("+OK", [("Job-UUID", "a\nb")]),
        lambda: P.event_plain_bytes([("Bad\nName", "x")]),
        lambda: P.event_plain_bytes([("Bad:Name", "x")]),
        lambda: P.event_plain_bytes([("", "x")]),
        lambda: P.connect_reply_bytes([], socket_mode="sync"),
        lambda: P.disconnect_notice_bytes("linger"),
        lambda: P.disconnect_notice_bytes("disconnect"),
        lambda: P.disconnect_notice_bytes("later", "u"),
        lambda: P.log_data_bytes([("Log-Level", "3\n")], "x"),
    ],
)
def test_serialisers_refuse_what_would_break_the_framing(build):
    with pytest.raises(P.LocalProtocolError):
        build()


def test_event_values_with_anything_are_encoded_safely():
    nasty = "a\nb\r\nContent-Type: x\n\n%zz ü"
    wire = P.event_plain_bytes([("Event-Name", "CUSTOM"), ("X", nasty)])
    assert wire.count(b"\n\n") == 2  # envelope end + payload end, nothing from the value
    assert one(wire).get("X") == nasty
