"""Reader for the recorded FreeSWITCH conversations (tests/fixtures/esl-traces/*.txt).

Format: a marker line `>>> sent [cN +T s n bytes]` or `<<< received [...]` followed by EXACTLY n bytes, the
message as it was on the wire. Every ESL message ends with a newline, and the file lets that final newline
double as the line break before the next marker, so nothing is added or removed: `data` is those n bytes.
`--- [cN +T s] open|close|close-local: ...` lines are TCP events, `# [cN +T s] ...` lines annotations.
Sections start with a `# Section i/n: title` comment block.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

EntryKind = Literal["sent", "received", "open", "close", "note"]

_MESSAGE = re.compile(
    rb"^(>>> sent|<<< received) \[(c\d+|--) \+([0-9.]+)s (\d+) bytes(, no trailing newline)?\]$"
)
_TCP = re.compile(rb"^--- \[(c\d+|--) \+([0-9.]+)s\] (open|close|close-local)(?::\s?(.*))?$")
_NOTE = re.compile(rb"^# \[(c\d+|--) \+([0-9.]+)s\] (.*)$")
_SECTION = re.compile(rb"^# Section (\d+)/(\d+): (.*)$")


@dataclass(frozen=True, slots=True)
class TraceEntry:
    """One line of the raw log. For sent/received, `data` is the exact message and `text` its decoding;
    for open/close/note, `data` is empty and `text` the description (close-local reads "local: ...")."""

    kind: EntryKind
    conn: str
    t: float
    data: bytes
    text: str


@dataclass(frozen=True, slots=True)
class TraceSection:
    title: str
    entries: tuple[TraceEntry, ...]
    description: str = ""

    def messages(self, kind: Literal["sent", "received"], conn: str | None = None) -> list[TraceEntry]:
        return [e for e in self.entries if e.kind == kind and (conn is None or e.conn == conn)]

    @property
    def connections(self) -> list[str]:
        seen: dict[str, None] = {}
        for e in self.entries:
            if e.conn:
                seen.setdefault(e.conn, None)
        return list(seen)


class TraceFormatError(ValueError):
    pass


def _conn(raw: bytes) -> str:
    return "" if raw == b"--" else raw.decode()


def parse_trace(data: bytes, name: str = "<trace>") -> list[TraceSection]:
    sections: list[TraceSection] = []
    title: str | None = None
    desc: list[str] = []
    entries: list[TraceEntry] = []
    in_header = False
    pos, size = 0, len(data)

    def flush() -> None:
        if title is not None:
            sections.append(TraceSection(title, tuple(entries), "\n".join(desc)))

    while pos < size:
        nl = data.find(b"\n", pos)
        if nl < 0:
            nl = size
        line = data[pos:nl]
        pos = nl + 1
        m = _MESSAGE.match(line)
        if m:
            if title is None:
                raise TraceFormatError(f"{name}: message before the first section")
            n = int(m.group(4))
            body = data[pos : pos + n]
            if len(body) != n:
                raise TraceFormatError(f"{name}: truncated message at byte {pos}")
            pos += n
            if m.group(5) and data[pos : pos + 1] == b"\n":
                pos += 1  # the file adds a line break after a message that does not end with one
            kind: EntryKind = "sent" if m.group(1).startswith(b">>>") else "received"
            entries.append(
                TraceEntry(kind, _conn(m.group(2)), float(m.group(3)), body, body.decode("utf-8", "replace"))
            )
            in_header = False
            continue
        m = _SECTION.match(line)
        if m:
            flush()
            title, desc, entries, in_header = m.group(3).decode().strip(), [], [], True
            continue
        m = _TCP.match(line)
        if m:
            kind = "open" if m.group(3) == b"open" else "close"
            text = (m.group(4) or b"").decode("utf-8", "replace")
            if m.group(3) == b"close-local":
                text = "local: " + text
            entries.append(TraceEntry(kind, _conn(m.group(1)), float(m.group(2)), b"", text))
            in_header = False
            continue
        m = _NOTE.match(line)
        if m and title is not None:
            note = m.group(3).decode("utf-8", "replace")
            entries.append(TraceEntry("note", _conn(m.group(1)), float(m.group(2)), b"", note))
            in_header = False
            continue
        if in_header and line.startswith(b"#") and not line.startswith(b"####"):
            desc.append(line[1:].decode("utf-8", "replace").removeprefix(" "))
    flush()
    return sections


def read_trace(path: str | Path) -> list[TraceSection]:
    p = Path(path)
    return parse_trace(p.read_bytes(), p.name)
