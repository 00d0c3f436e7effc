"""Reading SIPp's output files, using files written by SIPp 3.6.1 (tests/fixtures/sipp)."""

from __future__ import annotations

from pathlib import Path

import pytest

from esl_apps.qa.sipp_stats import (
    StatsError,
    last_stats,
    parse_stats_row,
    percentile,
    rate_per_second,
    read_error_codes,
    read_rtt,
    read_stat_rows,
    sipp_duration,
    summarise,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "sipp"


def test_successful_run() -> None:
    stats = last_stats(FIXTURES / "caller_ok_stat.csv")
    assert stats is not None
    assert (stats.created, stats.successful, stats.failed, stats.current) == (10, 10, 0, 0)
    assert stats.failed_by_reason == {}
    assert stats.counters == {"far_end_hung_up": 0, "answered": 10, "keys_sent": 15, "hung_up": 10}
    assert stats.mean_response_s == {"answer": pytest.approx(0.008), "bye": 0.0}
    assert stats.target_rate == 5
    assert 5.9 < stats.elapsed_s < 6.1
    assert stats.mean_call_length_s == pytest.approx(3.405)


def test_failed_call_by_reason_and_sip_code() -> None:
    stats = last_stats(FIXTURES / "caller_busy_stat.csv")
    assert stats is not None
    assert (stats.successful, stats.failed) == (1, 1)
    assert stats.failed_by_reason == {"UnexpectedMessage": 1}
    assert read_error_codes(FIXTURES / "caller_busy_error_codes.csv") == {"486": 1}


def test_periodic_rows_grow_and_a_half_written_row_is_ignored(tmp_path: Path) -> None:
    rows = read_stat_rows(FIXTURES / "caller_ok_stat.csv")
    created = [int(r["TotalCallCreated"]) for r in rows]
    assert created == sorted(created) and created[0] == 0 and created[-1] == 10
    text = (FIXTURES / "caller_ok_stat.csv").read_text()
    partial = tmp_path / "partial.csv"
    partial.write_text(text + text.splitlines()[1][:40])
    assert len(read_stat_rows(partial)) == len(rows)
    assert read_stat_rows(tmp_path / "missing.csv") == [] and last_stats(tmp_path / "missing.csv") is None


def test_response_times() -> None:
    rtt = read_rtt(FIXTURES / "caller_ok_rtt.csv")
    assert sorted(rtt) == ["answer", "bye"]
    answers = rtt["answer"]
    assert len(answers) == 10 and {value for _, value in answers} <= {8.0, 12.0}
    assert rate_per_second([when for when, _ in answers]) == pytest.approx(5.0, rel=0.01)


def test_durations() -> None:
    assert sipp_duration("00:00:01:017000") == pytest.approx(1.017)
    assert sipp_duration("01:02:03") == 3723
    with pytest.raises(StatsError):
        sipp_duration("soon")


def test_not_a_stats_row() -> None:
    with pytest.raises(StatsError):
        parse_stats_row({"Date_ms": "1"})


def test_percentiles_are_values_that_occurred() -> None:
    values = [float(v) for v in range(1, 101)]
    summary = summarise(reversed(values))
    assert summary is not None
    s = summary
    got = (s.count, s.minimum, s.p50, s.p90, s.p95, s.p99, s.maximum)
    assert got == (100, 1, 50, 90, 95, 99, 100)
    assert percentile([7.0], 0.99) == 7
    assert summarise([]) is None
    assert rate_per_second([5.0]) is None
