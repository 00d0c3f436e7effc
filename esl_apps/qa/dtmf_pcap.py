"""Build one pcap that plays a whole DTMF code as RFC 2833 events in ONE increasing RTP sequence.

Why not SIPp's own tools: on a leg FreeSWITCH dials out (an agent), it only listens for the
telephone-event payload type it offered (101), while SIPp's ``play_dtmf`` always sends 96; and
SIPp's per-key pcaps each restart their sequence numbers, so FreeSWITCH drops repeated keys
(``2,1,1,#`` arrived as ``2#``). This module writes all keys, the pauses between them and, by
default, PCMA silence in the gaps (so the leg never goes quiet long enough to trip a media
timeout) as one RTP stream: one SSRC, sequence numbers strictly increasing, one RTP timestamp per
key, the marker bit on each key's first packet and the end packet sent three times (RFC 4733).

A ``,`` in the digits is a pause (``pause_ms``), as on a phone dialler: ``"23*40*50#,,,1"`` keys a
disposition code, waits three seconds for the read-back, then confirms with 1.

Command line: ``python -m esl_apps.qa.dtmf_pcap OUT.pcap DIGITS [--payload-type 101] ...``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from esl_apps.qa.pcap import ipv4_udp_frame, read_udp_pcap, write_pcap
from esl_apps.qa.rtp import ReceivedKey, RtpPacket, TelephoneEvent, decode_keys, event_code, parse_rtp

SAMPLE_RATE = 8000
PCMA_SILENCE = 0xD5
_BASE_TIME = 1_700_000_000.0  # fixed capture epoch: the same arguments give the same bytes


@dataclass(frozen=True)
class DtmfTiming:
    """How keys are played. Durations in milliseconds; ``interval_ms`` is the event update period."""

    key_ms: int = 200
    gap_ms: int = 300
    pause_ms: int = 1000
    interval_ms: int = 20
    lead_ms: int = 120
    tail_ms: int = 120
    volume: int = 10

    def check(self) -> None:
        if self.interval_ms <= 0 or self.key_ms < self.interval_ms:
            raise ValueError("key_ms must be at least one interval_ms and interval_ms positive")
        if self.key_ms * SAMPLE_RATE // 1000 > 0xFFFF:
            raise ValueError("key_ms is too long for the 16-bit RFC 4733 duration field")
        if min(self.gap_ms, self.pause_ms, self.lead_ms, self.tail_ms) < 0:
            raise ValueError("gaps and pauses cannot be negative")
        if not 0 <= self.volume <= 63:
            raise ValueError("volume is 0..63 (-dBm0)")


@dataclass(frozen=True)
class DtmfPcap:
    """What was written; ``next_sequence``/``next_timestamp`` let a second pcap continue the stream."""

    path: Path
    digits: str
    payload_type: int
    packets: int
    duration_ms: int
    first_sequence: int
    next_sequence: int
    next_timestamp: int
    ssrc: int


def plan_dtmf_packets(digits: str, payload_type: int = 101, *, timing: DtmfTiming | None = None,
                      start_sequence: int = 1000, start_timestamp: int = 16000, ssrc: int = 0x45534C31,
                      audio_payload_type: int | None = 8, audio_ptime_ms: int = 30) -> list[RtpPacket]:
    """The RTP packets (with send times in ``time``, seconds from 0) for ``digits``; pure, no I/O."""
    timing = timing or DtmfTiming()
    timing.check()
    keys = [char for char in digits if char not in ", "]
    if not keys:
        raise ValueError("no DTMF keys to play")
    for key in keys:
        event_code(key)  # raises on anything that is not a key
    audio_ok = audio_payload_type is None or 0 <= audio_payload_type <= 127
    if not 0 <= payload_type <= 127 or not audio_ok:
        raise ValueError("RTP payload types are 0..127")
    if audio_ptime_ms <= 0:
        raise ValueError("audio_ptime_ms must be positive")

    packets: list[RtpPacket] = []
    seq = start_sequence
    now = 0  # ms since the start of the stream

    def add(pt: int, payload: bytes, at_ms: int, ts: int, marker: bool = False) -> None:
        nonlocal seq
        packets.append(RtpPacket(pt, seq, ts, ssrc, payload, marker, at_ms / 1000))
        seq += 1

    def fill(until_ms: int) -> int:
        """Audio (or nothing) from ``now`` up to ``until_ms``; returns the new ``now``."""
        at = now
        if audio_payload_type is not None:
            frame = bytes([PCMA_SILENCE]) * (audio_ptime_ms * SAMPLE_RATE // 1000)
            while at < until_ms:
                add(audio_payload_type, frame, at, start_timestamp + at * SAMPLE_RATE // 1000, not packets)
                at += audio_ptime_ms
        return max(at, until_ms)

    now = fill(timing.lead_ms)
    previous_was_key = False
    for char in digits:
        if char == " ":
            continue
        if char == ",":
            now = fill(now + timing.pause_ms)
            previous_was_key = False
            continue
        if previous_was_key:
            now = fill(now + timing.gap_ms)
        code = event_code(char)
        event_ts = start_timestamp + now * SAMPLE_RATE // 1000
        steps = timing.key_ms // timing.interval_ms
        for step in range(steps):
            elapsed = (step + 1) * timing.interval_ms
            event = TelephoneEvent(code, False, timing.volume, elapsed * SAMPLE_RATE // 1000)
            add(payload_type, event.encode(), now + step * timing.interval_ms, event_ts, step == 0)
        end = TelephoneEvent(code, True, timing.volume, steps * timing.interval_ms * SAMPLE_RATE // 1000)
        for repeat in range(3):
            add(payload_type, end.encode(), now + (steps + repeat) * timing.interval_ms, event_ts)
        now += (steps + 3) * timing.interval_ms
        previous_was_key = True
    fill(now + timing.tail_ms)
    if seq - 1 > 0xFFFF:
        raise ValueError("the RTP sequence would wrap: FreeSWITCH would drop every key after the wrap; "
                         "lower start_sequence")
    return packets


def write_dtmf_pcap(path: str | Path, digits: str, payload_type: int = 101, *,
                    timing: DtmfTiming | None = None, start_sequence: int = 1000,
                    start_timestamp: int = 16000, ssrc: int = 0x45534C31,
                    audio_payload_type: int | None = 8, audio_ptime_ms: int = 30,
                    src: tuple[str, int] = ("127.0.0.1", 40000),
                    dst: tuple[str, int] = ("127.0.0.1", 6000)) -> DtmfPcap:
    """Write the pcap SIPp plays with ``<exec play_pcap_audio="..."/>``; see module doc."""
    packets = plan_dtmf_packets(digits, payload_type, timing=timing, start_sequence=start_sequence,
                                start_timestamp=start_timestamp, ssrc=ssrc,
                                audio_payload_type=audio_payload_type, audio_ptime_ms=audio_ptime_ms)
    frames = ((_BASE_TIME + p.time, ipv4_udp_frame(src[0], src[1], dst[0], dst[1], p.encode()))
              for p in packets)
    target = Path(path)
    write_pcap(target, frames)
    last = packets[-1]
    tail_samples = (audio_ptime_ms if last.payload_type == audio_payload_type else 0) * SAMPLE_RATE // 1000
    return DtmfPcap(
        path=target,
        digits=digits,
        payload_type=payload_type,
        packets=len(packets),
        duration_ms=round(last.time * 1000),
        first_sequence=packets[0].sequence,
        next_sequence=last.sequence + 1,
        next_timestamp=last.timestamp + tail_samples,
        ssrc=ssrc,
    )


def read_rtp_pcap(path: str | Path) -> list[RtpPacket]:
    """The RTP packets of a pcap (UDP payloads parsed as RTP), with their capture times."""
    return [parse_rtp(d.payload, d.time) for d in read_udp_pcap(path)]


def pcap_keys(path: str | Path, payload_types: Sequence[int] = (101,), *,
              freeswitch_rules: bool = True) -> list[ReceivedKey]:
    """The keys FreeSWITCH would take from playing this pcap (see esl_apps.qa.rtp.decode_keys)."""
    return decode_keys(read_rtp_pcap(path), payload_types, freeswitch_rules=freeswitch_rules)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m esl_apps.qa.dtmf_pcap",
        description="Write a multi-key RFC 2833 DTMF pcap for SIPp play_pcap_audio.")
    parser.add_argument("out", type=Path)
    parser.add_argument("digits", help='keys 0-9 * # A-D; "," pauses (e.g. "23*40*50#,,,1")')
    parser.add_argument("--payload-type", type=int, default=101)
    parser.add_argument("--key-ms", type=int, default=200)
    parser.add_argument("--gap-ms", type=int, default=300)
    parser.add_argument("--pause-ms", type=int, default=1000)
    parser.add_argument("--no-audio", action="store_true", help="no PCMA silence between keys")
    parser.add_argument("--start-sequence", type=int, default=1000)
    args = parser.parse_args(argv)
    try:
        timing = DtmfTiming(key_ms=args.key_ms, gap_ms=args.gap_ms, pause_ms=args.pause_ms)
        info = write_dtmf_pcap(args.out, args.digits, args.payload_type, timing=timing,
                               start_sequence=args.start_sequence,
                               audio_payload_type=None if args.no_audio else 8)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{info.path}: {info.digits!r} as {info.packets} RTP packets, payload type {info.payload_type}, "
          f"{info.duration_ms} ms, sequence {info.first_sequence}..{info.next_sequence - 1}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
