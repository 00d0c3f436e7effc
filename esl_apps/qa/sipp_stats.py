"""Read SIPp's output files: the statistics CSV (-trace_stat), response times (-trace_rtt) and the
SIP codes of unexpected messages (-trace_error_codes).

SIPp's exit code alone says little (it exits 0 after SIGUSR1 even when it handled no calls), so
everything the load test reports comes from these files. Formats, as written by SIPp 3.6.1:
- ``<scenario>_<pid>_.csv``: ``;``-separated, one header row, then one row per -fd period and a
  last row at exit. ``(P)`` columns are per period, ``(C)`` cumulative. Times look like
  ``2026-11-23<TAB>10:52:28.609388<TAB>1795431148.609388``; durations like ``00:00:01:017000``.
  Scenario counters (``counter="name"``) appear as ``name(P)``/``name(C)``; named response times
  as ``ResponseTime<name>(C)``.
- ``<scenario>_<pid>_rtt.csv``: header ``Date_ms;response_time_ms;rtd_no``, one row per measure,
  ``rtd_no`` being the rtd name.
- ``<scenario>_<pid>_error_codes.csv``: ``time;elapsed;code,code,...;`` per period.
"""

from __future__ import annotations

import csv
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

_STANDARD_PREFIXES = (
    "StartTime", "LastResetTime", "CurrentTime", "ElapsedTime", "TargetRate", "CallRate", "IncomingCall",
    "OutgoingCall", "TotalCallCreated", "CurrentCall", "SuccessfulCall", "FailedCall", "OutOfCallMsgs",
    "DeadCallMsgs", "Retransmissions", "AutoAnswered", "Warnings", "FatalErrors", "Watchdog",
    "ResponseTime", "CallLength", "GenericCounter",
)

# SIPp's failure counters, in words a QA engineer can act on.
FAILURE_REASONS: Mapping[str, str] = {
    "CannotSendMessage": "could not send a SIP message",
    "MaxUDPRetrans": "no answer to a request (UDP retransmissions exhausted)",
    "TcpConnect": "TCP connect failed",
    "TcpClosed": "TCP connection closed",
    "UnexpectedMessage": "unexpected SIP message (e.g. a 4xx/5xx instead of 200 OK)",
    "CallRejected": "call rejected by a scenario action",
    "CmdNotSent": "3PCC command not sent",
    "RegexpDoesntMatch": "a regexp check did not match",
    "RegexpShouldntMatch": "a regexp check matched but should not",
    "RegexpHdrNotFound": "a header a regexp needed was missing",
    "OutboundCongestion": "outbound congestion",
    "TimeoutOnRecv": "timed out waiting for a message",
    "TimeoutOnSend": "timed out sending a message",
    "TestDoesntMatch": "scenario check failed (e.g. no BYE from the far end in time)",
    "TestShouldntMatch": "scenario check matched but should not",
    "StrcmpDoesntMatch": "a string check did not match",
    "StrcmpShouldntMatch": "a string check matched but should not",
}


class StatsError(ValueError):
    """A SIPp output file that cannot be read as such."""


def sipp_duration(text: str) -> float:
    """``HH:MM:SS:uuuuuu`` (or ``HH:MM:SS``) to seconds."""
    parts = text.strip().split(":")
    try:
        numbers = [int(p) for p in parts]
    except ValueError as exc:
        raise StatsError(f"not a SIPp duration: {text!r}") from exc
    if len(numbers) == 4:
        hours, minutes, seconds, micros = numbers
    elif len(numbers) == 3:
        (hours, minutes, seconds), micros = numbers, 0
    else:
        raise StatsError(f"not a SIPp duration: {text!r}")
    return hours * 3600 + minutes * 60 + seconds + micros / 1e6


def sipp_timestamp(text: str) -> float:
    """The epoch seconds at the end of a SIPp date cell (``date<TAB>time<TAB>epoch``)."""
    try:
        return float(text.strip().split("\t")[-1])
    except ValueError as exc:
        raise StatsError(f"not a SIPp timestamp: {text!r}") from exc


@dataclass(frozen=True)
class SippStats:
    """One row of the statistics file, cumulative values."""

    start: float
    now: float
    created: int
    incoming: int
    outgoing: int
    current: int
    successful: int
    failed: int
    failed_by_reason: Mapping[str, int]
    retransmissions: int
    dead_call_msgs: int
    out_of_call_msgs: int
    fatal_errors: int
    counters: Mapping[str, int]
    mean_response_s: Mapping[str, float]
    mean_call_length_s: float
    target_rate: float
    call_rate: float

    @property
    def elapsed_s(self) -> float:
        return max(0.0, self.now - self.start)

    @property
    def finished(self) -> int:
        return self.successful + self.failed


def _int(row: Mapping[str, str], name: str) -> int:
    value = row.get(name, "") or "0"
    try:
        return int(float(value))
    except ValueError as exc:
        raise StatsError(f"column {name}: {value!r} is not a number") from exc


def _float(row: Mapping[str, str], name: str) -> float:
    try:
        return float(row.get(name, "") or 0)
    except ValueError as exc:
        raise StatsError(f"column {name}: not a number") from exc


def parse_stats_row(row: Mapping[str, str]) -> SippStats:
    if "TotalCallCreated" not in row or "StartTime" not in row:
        raise StatsError("not a SIPp statistics row (no TotalCallCreated/StartTime columns)")
    failed_by_reason = {}
    counters = {}
    responses = {}
    for name, value in row.items():
        if not name.endswith("(C)"):
            continue
        base = name[:-3]
        if base.startswith("Failed") and base != "FailedCall":
            count = _int(row, name)
            if count:
                failed_by_reason[base[len("Failed"):]] = count
        elif base.startswith("ResponseTime") and not base.endswith("StDev") and value:
            responses[base[len("ResponseTime"):]] = sipp_duration(value)
        elif not base.startswith(_STANDARD_PREFIXES):
            counters[base] = _int(row, name)
    length = row.get("CallLength(C)", "")
    return SippStats(
        start=sipp_timestamp(row["StartTime"]),
        now=sipp_timestamp(row.get("CurrentTime", row["StartTime"])),
        created=_int(row, "TotalCallCreated"),
        incoming=_int(row, "IncomingCall(C)"),
        outgoing=_int(row, "OutgoingCall(C)"),
        current=_int(row, "CurrentCall"),
        successful=_int(row, "SuccessfulCall(C)"),
        failed=_int(row, "FailedCall(C)"),
        failed_by_reason=failed_by_reason,
        retransmissions=_int(row, "Retransmissions(C)"),
        dead_call_msgs=_int(row, "DeadCallMsgs(C)"),
        out_of_call_msgs=_int(row, "OutOfCallMsgs(C)"),
        fatal_errors=_int(row, "FatalErrors(C)"),
        counters=counters,
        mean_response_s=responses,
        mean_call_length_s=sipp_duration(length) if length else 0.0,
        target_rate=_float(row, "TargetRate"),
        call_rate=_float(row, "CallRate(C)"),
    )


def read_stat_rows(path: str | Path) -> list[dict[str, str]]:
    """All complete rows of a statistics file (a row SIPp is still writing is skipped)."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return []
    lines = text.splitlines()
    if not text.endswith("\n") and lines:
        lines = lines[:-1]  # partial last line
    rows = list(csv.reader(lines, delimiter=";"))
    if not rows:
        return []
    header = rows[0]
    return [dict(zip(header, row, strict=False)) for row in rows[1:] if len(row) >= len(header) - 1]


def last_stats(path: str | Path) -> SippStats | None:
    rows = read_stat_rows(path)
    return parse_stats_row(rows[-1]) if rows else None


def read_rtt(path: str | Path) -> dict[str, list[tuple[float, float]]]:
    """``(when_ms, response_time_ms)`` by rtd name; ``when_ms`` counts from SIPp's start."""
    out: dict[str, list[tuple[float, float]]] = {}
    try:
        lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return out
    for line in lines[1:]:
        cells = line.strip().split(";")
        if len(cells) < 3 or not cells[2]:
            continue
        try:
            point = (float(cells[0]), float(cells[1]))
        except ValueError:
            continue
        out.setdefault(cells[2], []).append(point)
    return out


def rate_per_second(times_ms: Sequence[float]) -> float | None:
    """Events per second between the first and the last event (None with fewer than two)."""
    if len(times_ms) < 2:
        return None
    span = max(times_ms) - min(times_ms)
    return (len(times_ms) - 1) * 1000 / span if span > 0 else None


def read_error_codes(path: str | Path) -> Counter[str]:
    """How often each SIP status code arrived as an unexpected message (e.g. ``486``, ``480``)."""
    codes: Counter[str] = Counter()
    try:
        lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return codes
    for line in lines:
        cells = line.split(";")
        if len(cells) >= 3:
            codes.update(code.strip() for code in cells[2].split(",") if code.strip())
    return codes


@dataclass(frozen=True)
class Percentiles:
    count: int
    minimum: float
    p50: float
    p90: float
    p95: float
    p99: float
    maximum: float
    values: Sequence[float] = field(default=(), repr=False, compare=False)


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values (no interpolation: a value that occurred)."""
    if not sorted_values:
        raise ValueError("no values")
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def summarise(values: Iterable[float]) -> Percentiles | None:
    ordered = sorted(values)
    if not ordered:
        return None
    return Percentiles(len(ordered), ordered[0], percentile(ordered, 0.5), percentile(ordered, 0.9),
                       percentile(ordered, 0.95), percentile(ordered, 0.99), ordered[-1], tuple(ordered))
