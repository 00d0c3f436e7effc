"""The multi-key RFC 2833 pcap: parsed back byte by byte with struct, not with the writer's own code."""

from __future__ import annotations

import itertools
import socket
import struct
from pathlib import Path

import pytest

from esl_apps.qa.dtmf_pcap import (
    DtmfTiming,
    main,
    pcap_keys,
    plan_dtmf_packets,
    read_rtp_pcap,
    write_dtmf_pcap,
)
from esl_apps.qa.rtp import decode_keys, keys_text

SIPP_PCAPS = Path("/usr/share/sip-tester")


def parse_pcap(path: Path) -> tuple[int, list[dict]]:
    """Independent reader: global header, then Ethernet/IPv4/UDP/RTP per record."""
    data = path.read_bytes()
    magic, major, minor, _zone, _sigfigs, snaplen, linktype = struct.unpack("<IHHiIII", data[:24])
    assert (magic, major, minor, snaplen) == (0xA1B2C3D4, 2, 4, 65535)
    offset, records = 24, []
    while offset < len(data):
        sec, usec, incl, orig = struct.unpack("<IIII", data[offset:offset + 16])
        offset += 16
        frame = data[offset:offset + incl]
        offset += incl
        assert incl == orig == len(frame)
        assert struct.unpack("!H", frame[12:14])[0] == 0x0800
        ip = frame[14:34]
        assert ip[0] == 0x45 and ip[9] == 17
        words = struct.unpack("!10H", ip)
        total = sum(words)
        while total > 0xFFFF:
            total = (total & 0xFFFF) + (total >> 16)
        assert total == 0xFFFF, "IPv4 header checksum"
        assert struct.unpack("!H", ip[2:4])[0] == len(frame) - 14
        src_port, dst_port, udp_len, _sum = struct.unpack("!HHHH", frame[34:42])
        assert udp_len == len(frame) - 34
        rtp = frame[42:]
        b0, b1, seq, ts, ssrc = struct.unpack("!BBHII", rtp[:12])
        assert b0 == 0x80
        record = {"time": sec + usec / 1e6, "src": (socket.inet_ntoa(ip[12:16]), src_port),
                  "dst": (socket.inet_ntoa(ip[16:20]), dst_port), "marker": bool(b1 & 0x80), "pt": b1 & 0x7F,
                  "seq": seq, "ts": ts, "ssrc": ssrc, "payload": rtp[12:]}
        if record["pt"] == 101:
            event, flags, duration = struct.unpack("!BBH", rtp[12:16])
            record.update(event=event, end=bool(flags & 0x80), volume=flags & 0x3F, duration=duration)
        records.append(record)
    return linktype, records


def events_by_key(records: list[dict]) -> list[list[dict]]:
    """Telephone-event packets grouped per key press (one RTP timestamp each), in order."""
    groups: list[list[dict]] = []
    for record in records:
        if record["pt"] != 101:
            continue
        if not groups or groups[-1][0]["ts"] != record["ts"]:
            groups.append([])
        groups[-1].append(record)
    return groups


def test_repeated_keys_are_one_increasing_sequence(tmp_path: Path) -> None:
    info = write_dtmf_pcap(tmp_path / "code.pcap", "2,11#", payload_type=101)
    linktype, records = parse_pcap(tmp_path / "code.pcap")
    assert linktype == 1
    seqs = [r["seq"] for r in records]
    assert all(b == a + 1 for a, b in itertools.pairwise(seqs)), "sequence strictly increasing"
    assert seqs[0] == info.first_sequence and seqs[-1] == info.next_sequence - 1
    times = [r["time"] for r in records]
    assert times == sorted(times)
    assert len({r["ssrc"] for r in records}) == 1
    assert len({r["dst"] for r in records}) == 1, "SIPp maps ports relative to one destination port"
    keys = events_by_key(records)
    assert [g[0]["event"] for g in keys] == [2, 1, 1, 11]
    timestamps = [g[0]["ts"] for g in keys]
    assert timestamps == sorted(set(timestamps)), "each key press has its own, later RTP timestamp"
    for group in keys:
        assert group[0]["marker"] and not any(r["marker"] for r in group[1:])
        body, ends = [r for r in group if not r["end"]], [r for r in group if r["end"]]
        assert len(ends) == 3 and group[-3:] == ends, "end packet sent three times, last"
        durations = [r["duration"] for r in body]
        assert durations == sorted(durations) and durations[0] > 0
        assert {r["duration"] for r in ends} == {200 * 8}, "end duration = key length in samples"
        assert {r["volume"] for r in group} == {10}


def test_pause_and_gaps_are_filled_with_pcma_silence(tmp_path: Path) -> None:
    write_dtmf_pcap(tmp_path / "p.pcap", "1,,2", timing=DtmfTiming(pause_ms=1000, gap_ms=300))
    _, records = parse_pcap(tmp_path / "p.pcap")
    keys = events_by_key(records)
    gap = keys[1][0]["time"] - keys[0][-1]["time"]
    assert 2.0 <= gap < 2.2, "two commas pause two seconds"
    between = [r for r in records if keys[0][-1]["time"] < r["time"] < keys[1][0]["time"]]
    assert between and {r["pt"] for r in between} == {8}
    assert {len(r["payload"]) for r in between} == {240} and {r["payload"][0] for r in between} == {0xD5}
    audio_ts = [r["ts"] for r in between]
    assert all(b - a == 240 for a, b in itertools.pairwise(audio_ts)), "30 ms of samples apart"


def test_without_audio_only_events_are_written(tmp_path: Path) -> None:
    info = write_dtmf_pcap(tmp_path / "e.pcap", "*#", audio_payload_type=None, payload_type=96)
    _, records = parse_pcap(tmp_path / "e.pcap")
    assert {r["pt"] for r in records} == {96}
    assert info.packets == len(records) == 2 * (10 + 3)


def test_freeswitch_would_take_every_key_of_our_pcap(tmp_path: Path) -> None:
    write_dtmf_pcap(tmp_path / "c.pcap", "23*40*50#,,,1")
    assert keys_text(pcap_keys(tmp_path / "c.pcap")) == "23*40*50#1"
    assert keys_text(pcap_keys(tmp_path / "c.pcap", (96,))) == "", "payload type 101 only"


NO_SIPP_PCAPS = not (SIPP_PCAPS / "dtmf_2833_pound.pcap").exists()


@pytest.mark.skipif(NO_SIPP_PCAPS, reason="sip-tester pcaps not installed")
def test_sipp_per_key_pcaps_in_a_row_lose_keys_as_on_freeswitch() -> None:
    """The trap found on a real switch: 2,1,1,# played from per-key pcaps arrived as 2#."""
    packets = []
    for key in ("2", "1", "1", "pound"):
        packets += read_rtp_pcap(SIPP_PCAPS / f"dtmf_2833_{key}.pcap")
    assert keys_text(decode_keys(packets, (101,))) == "2#"


def test_sequence_continues_from_a_previous_pcap(tmp_path: Path) -> None:
    first = write_dtmf_pcap(tmp_path / "a.pcap", "12#")
    second = write_dtmf_pcap(tmp_path / "b.pcap", "1", start_sequence=first.next_sequence,
                             start_timestamp=first.next_timestamp)
    packets = read_rtp_pcap(first.path) + read_rtp_pcap(second.path)
    assert keys_text(decode_keys(packets, (101,))) == "12#1"


@pytest.mark.parametrize(("digits", "kwargs", "message"), [
    ("12x", {}, "not a DTMF key"),
    (",,", {}, "no DTMF keys"),
    ("1", {"start_sequence": 65530}, "wrap"),
    ("1", {"timing": DtmfTiming(key_ms=10_000)}, "16-bit"),
    ("1", {"timing": DtmfTiming(volume=64)}, "volume"),
    ("1", {"payload_type": 128}, "payload types"),
])
def test_bad_requests_are_refused(digits: str, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        plan_dtmf_packets(digits, **kwargs)


def test_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path / "x.pcap"), "20#", "--payload-type", "101"]) == 0
    assert "payload type 101" in capsys.readouterr().out
    assert keys_text(pcap_keys(tmp_path / "x.pcap")) == "20#"
    assert main([str(tmp_path / "y.pcap"), "2z"]) == 2
    assert not (tmp_path / "y.pcap").exists()
