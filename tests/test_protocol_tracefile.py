"""The trace reader: sections, entry kinds, exact message bytes."""

from __future__ import annotations

from pathlib import Path

import pytest

from esl_apps.esl.tracefile import TraceFormatError, parse_trace, read_trace

TRACE_DIR = Path(__file__).parent / "fixtures" / "esl-traces"


def test_outbound_basic_structure():
    (section,) = read_trace(TRACE_DIR / "01-outbound-basic.txt")
    assert section.title == "outbound-basic"
    assert "c1 = outbound" in section.description
    kinds = [e.kind for e in section.entries]
    assert kinds[0] == "note" and kinds[1] == "open" and kinds[-2:] == ["close", "note"]
    sent = section.messages("sent")
    assert [e.data for e in sent][:3] == [b"connect\n\n", b"myevents\n\n", b"linger\n\n"]
    assert sent[-1].data == b"exit\n\n" and sent[-1].t == pytest.approx(5.477)
    received = section.messages("received", "c1")
    assert len(received) == 21
    assert received[0].data.startswith(b"Event-Name: CHANNEL_DATA\n") and len(received[0].data) == 5447
    assert received[-1].text.endswith("See you at ClueCon! http://www.cluecon.com/\n")
    assert section.entries[-2].text == "socket closed by peer (EOF)"
    assert section.entries[0].conn == ""  # section-wide annotation


def test_message_sizes_match_markers_in_every_trace():
    for path in sorted(TRACE_DIR.glob("*.txt")):
        for section in read_trace(path):
            for entry in section.entries:
                if entry.kind in ("sent", "received"):
                    # api/response bodies such as `true` have no final newline; the file marks them
                    # `n bytes, no trailing newline` (added by the transport helper with the reader fix)
                    api = entry.data.startswith(b"Content-Type: api/response\n")
                    assert entry.data.endswith(b"\n") or api
                    assert entry.text == entry.data.decode()
                else:
                    assert entry.data == b""


def test_multi_connection_sections_and_close_local():
    sections = read_trace(TRACE_DIR / "04a-agent-wrapup-transfer_after_bridge.txt")
    assert len(sections) == 2
    assert sections[0].connections == ["c1", "c2"]  # section-wide notes have no connection
    times = [e.t for e in sections[0].entries]
    assert times == sorted(times)
    closes = [
        e.text
        for path in TRACE_DIR.glob("06b*.txt")
        for s in read_trace(path)
        for e in s.entries
        if e.kind == "close"
    ]
    assert "local: application closes the socket" in closes


def test_minimal_and_broken_files():
    data = (
        b"# Section 1/1: tiny\n#   about\n####\n--- [c1 +0.000s] open: x\n"
        b">>> sent [c1 +0.001s 9 bytes]\nconnect\n\n# [c1 +0.002s] note here\n"
    )
    (s,) = parse_trace(data)
    assert [(e.kind, e.text) for e in s.entries] == [
        ("open", "x"),
        ("sent", "connect\n\n"),
        ("note", "note here"),
    ]
    with pytest.raises(TraceFormatError):
        parse_trace(b"# Section 1/1: t\n>>> sent [c1 +0.001s 99 bytes]\nconnect\n\n")
    with pytest.raises(TraceFormatError):
        parse_trace(b">>> sent [c1 +0.001s 1 bytes]\nx")
