"""RTP/RFC 2833 parsing and the decoder that mimics FreeSWITCH's handling of telephone-events."""

from __future__ import annotations

import struct

import pytest

from esl_apps.qa.rtp import (
    RtpError,
    RtpPacket,
    TelephoneEvent,
    decode_keys,
    event_code,
    keys_text,
    parse_event,
    parse_rtp,
)


def event_packets(key: str, seq: int, ts: int, *, pt: int = 101, ssrc: int = 7,
                  steps: int = 3) -> list[RtpPacket]:
    code = event_code(key)
    packets = [RtpPacket(pt, seq + i, ts, ssrc, TelephoneEvent(code, False, 10, 160 * (i + 1)).encode(),
                         i == 0) for i in range(steps)]
    packets += [RtpPacket(pt, seq + steps + i, ts, ssrc, TelephoneEvent(code, True, 10, 160 * steps).encode())
                for i in range(3)]
    return packets


def test_rtp_round_trip_and_wire_layout() -> None:
    packet = RtpPacket(101, 65535, 0xFFFFFFFF, 0x01020304, b"\x05\x8a\x03\x20", marker=True)
    wire = packet.encode()
    assert wire[:2] == b"\x80\xe5"
    assert struct.unpack("!HII", wire[2:12]) == (65535, 0xFFFFFFFF, 0x01020304)
    parsed = parse_rtp(wire)
    assert parsed == packet
    event = parse_event(parsed.payload)
    assert (event.key, event.end, event.volume, event.duration) == ("5", True, 10, 800)


def test_csrc_extension_and_padding_are_skipped() -> None:
    header = bytes([0x80 | 0x20 | 0x10 | 1, 101]) + struct.pack("!HII", 1, 2, 3)
    csrc = b"\x00\x00\x00\x09"
    extension = b"\xbe\xde\x00\x01" + b"\x01\x02\x03\x04"
    payload = TelephoneEvent(11, True, 5, 320).encode()
    padding = b"\x00\x00\x03"
    parsed = parse_rtp(header + csrc + extension + payload + padding)
    assert parse_event(parsed.payload).key == "#"


@pytest.mark.parametrize("data", [b"\x80\x65", b"\x40" + bytes(11)])
def test_not_rtp(data: bytes) -> None:
    with pytest.raises(RtpError):
        parse_rtp(data)


def test_keys_and_their_codes() -> None:
    assert [event_code(k) for k in "09*#AD"] == [0, 9, 10, 11, 12, 15]
    with pytest.raises(RtpError):
        event_code("E")


def test_freeswitch_drops_a_key_whose_sequence_is_not_higher() -> None:
    first = event_packets("2", 500, 1000)
    replay_lower = event_packets("1", 450, 2000)  # 50 lower than the last event packet: dropped
    later = event_packets("#", 600, 3000)
    packets = first + replay_lower + later
    assert keys_text(decode_keys(packets)) == "2#"
    assert keys_text(decode_keys(packets, freeswitch_rules=False)) == "21#", "what was sent"


def test_freeswitch_treats_a_drop_of_more_than_100_as_a_restart() -> None:
    packets = event_packets("2", 5000, 1000) + event_packets("1", 100, 2000)
    assert keys_text(decode_keys(packets)) == "21"


def test_one_key_per_event_timestamp_even_with_repeated_end_packets() -> None:
    assert keys_text(decode_keys(event_packets("7", 10, 80))) == "7"


def test_audio_packets_do_not_disturb_events_and_other_types_are_ignored() -> None:
    audio = [RtpPacket(8, 20 + i, 100 + 240 * i, 7, bytes(240)) for i in range(3)]
    packets = [*event_packets("4", 10, 80), *audio, *event_packets("4", 30, 2000),
               *event_packets("9", 40, 3000, pt=96)]
    assert keys_text(decode_keys(packets, (101,))) == "44"
    assert keys_text(decode_keys(packets, (96, 101))) == "449"


def test_a_key_heard_only_by_its_end_packet_still_counts() -> None:
    ends_only = event_packets("3", 10, 80)[-3:]
    keys = decode_keys(ends_only)
    assert keys_text(keys) == "3" and keys[0].ended
