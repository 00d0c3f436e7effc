"""RTP headers and RFC 2833/4733 telephone-events, plus a decoder that applies FreeSWITCH's rules.

The decoder exists because "the pcap contains the digits" is not the same as "FreeSWITCH would
hear the digits": FreeSWITCH (switch_rtp.c, handle_rfc2833) keeps ONE last-seen sequence number for
telephone-events per RTP session, across SSRCs, and silently drops any event packet whose sequence
number is not higher (unless it is more than 100 lower, which it treats as a restart). That is
why SIPp's per-key pcaps played one after another lose keys. Decoding with ``freeswitch_rules``
reproduces that, so tests catch it here instead of on a real switch.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass

EVENT_CHARS = "0123456789*#ABCD"
_RTP = struct.Struct("!BBHII")
_EVENT = struct.Struct("!BBH")


class RtpError(ValueError):
    """Bytes that are not an RTP packet, or a digit with no RFC 2833 event code."""


@dataclass(frozen=True)
class RtpPacket:
    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes
    marker: bool = False
    time: float = 0.0  # capture or send time in seconds; not part of the wire format

    def encode(self) -> bytes:
        first = 0x80  # version 2, no padding, no extension, no CSRC
        second = (0x80 if self.marker else 0) | (self.payload_type & 0x7F)
        return _RTP.pack(first, second, self.sequence & 0xFFFF, self.timestamp & 0xFFFFFFFF,
                         self.ssrc & 0xFFFFFFFF) + self.payload


@dataclass(frozen=True)
class TelephoneEvent:
    """One RFC 4733 event payload; ``duration`` is in timestamp units (samples at 8 kHz)."""

    event: int
    end: bool
    volume: int
    duration: int

    @property
    def key(self) -> str:
        return EVENT_CHARS[self.event] if self.event < len(EVENT_CHARS) else "?"

    def encode(self) -> bytes:
        flags = (0x80 if self.end else 0) | (self.volume & 0x3F)
        return _EVENT.pack(self.event, flags, self.duration & 0xFFFF)


@dataclass(frozen=True)
class ReceivedKey:
    """A key as a receiver reports it: the event's RTP timestamp identifies one key press."""

    key: str
    ssrc: int
    timestamp: int
    duration: int
    first_sequence: int
    ended: bool


def event_code(key: str) -> int:
    index = EVENT_CHARS.find(key.upper()) if len(key) == 1 else -1
    if index < 0:
        raise RtpError(f"{key!r} is not a DTMF key (use 0-9, *, #, A-D)")
    return index


def parse_rtp(data: bytes, time: float = 0.0) -> RtpPacket:
    if len(data) < _RTP.size:
        raise RtpError(f"{len(data)} bytes is too short for an RTP header")
    first, second, sequence, timestamp, ssrc = _RTP.unpack_from(data)
    if first >> 6 != 2:
        raise RtpError(f"RTP version {first >> 6}, expected 2")
    offset = _RTP.size + 4 * (first & 0x0F)
    if first & 0x10:  # header extension: 16-bit profile, 16-bit length in words
        if len(data) < offset + 4:
            raise RtpError("truncated RTP header extension")
        offset += 4 + 4 * struct.unpack_from("!H", data, offset + 2)[0]
    end = len(data)
    if first & 0x20 and end > offset:
        end -= data[-1]
    return RtpPacket(second & 0x7F, sequence, timestamp, ssrc, data[offset:end], bool(second & 0x80), time)


def parse_event(payload: bytes) -> TelephoneEvent:
    if len(payload) < _EVENT.size:
        raise RtpError(f"{len(payload)} bytes is too short for a telephone-event")
    event, flags, duration = _EVENT.unpack_from(payload)
    return TelephoneEvent(event, bool(flags & 0x80), flags & 0x3F, duration)


def decode_keys(packets: Iterable[RtpPacket], payload_types: Iterable[int] = (101,),
                *, freeswitch_rules: bool = True) -> list[ReceivedKey]:
    """Keys carried by the telephone-event packets among ``packets`` (in arrival order).

    With ``freeswitch_rules`` a key is reported only if FreeSWITCH would queue it (see module doc);
    without, every distinct (SSRC, timestamp) event is reported, which describes what was sent.
    """
    types = set(payload_types)
    keys: list[ReceivedKey] = []
    if not freeswitch_rules:
        seen: dict[tuple[int, int], int] = {}
        for packet in packets:
            if packet.payload_type not in types:
                continue
            event = parse_event(packet.payload)
            ident = (packet.ssrc, packet.timestamp)
            if ident not in seen:
                seen[ident] = len(keys)
                keys.append(ReceivedKey(event.key, packet.ssrc, packet.timestamp, event.duration,
                                        packet.sequence, event.end))
            else:
                old = keys[seen[ident]]
                keys[seen[ident]] = ReceivedKey(old.key, old.ssrc, old.timestamp,
                                                max(old.duration, event.duration), old.first_sequence,
                                                old.ended or event.end)
        return keys

    last_seq = 0
    digit_ts = 0  # timestamp of the event in progress, 0 when none (as in switch_rtp.c)
    last_digit_ts = 0
    start_seq = 0
    for packet in packets:
        if packet.payload_type not in types:
            continue
        event = parse_event(packet.payload)
        seq, ts = packet.sequence, packet.timestamp
        if seq < last_seq and last_seq - seq > 100:
            last_seq = 0
        if seq <= last_seq:
            continue  # FreeSWITCH: "drop"
        last_seq = seq
        if digit_ts and digit_ts != ts:
            digit_ts = 0
        if event.end:
            if not digit_ts and last_digit_ts != ts:
                digit_ts = last_digit_ts = ts
                start_seq = seq
            if digit_ts:
                keys.append(ReceivedKey(event.key, packet.ssrc, ts, event.duration, start_seq, True))
                digit_ts = 0
        elif not digit_ts:
            digit_ts = last_digit_ts = ts
            start_seq = seq
    return keys


def keys_text(keys: Iterable[ReceivedKey]) -> str:
    return "".join(key.key for key in keys)
