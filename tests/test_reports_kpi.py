"""KPI figures checked against a fixture computed by hand (see the comments for the arithmetic)."""

from __future__ import annotations

import pytest

from esl_apps.reports.kpi import ReportOptions, compute_report
from esl_apps.reports.source import load_jsonl_dir
from tests.conftest import FIXTURES

T0 = 1_795_400_000_000
DAY = ReportOptions(since_ms=T0, until_ms=T0 + 3_600_000)


@pytest.fixture
def records() -> dict[str, list[dict]]:
    return load_jsonl_dir(FIXTURES / "reports")


def _report(records: dict[str, list[dict]], options: ReportOptions = DAY):
    return compute_report(records["interactions"], records["dispositions"], records["callbacks"], options)


def test_totals_match_hand_computed_figures(records: dict[str, list[dict]]) -> None:
    total = _report(records).total
    assert total.offered == 8  # c9 is a day later, outside the window
    assert total.answered == 4
    assert total.answer_rate == pytest.approx(0.5)
    assert total.abandoned == 2
    assert total.abandon_rate == pytest.approx(0.25)
    assert total.asa_s == pytest.approx((10 + 30 + 5 + 20) / 4)
    # within 20 s: c1 (10), c6 (5), c8 (20, the boundary counts) over answered 4 + abandoned 2
    assert total.service_level == pytest.approx(3 / 6)
    assert total.average_response_s == pytest.approx((10 + 30 + 15 + 3 + 60 + 5 + 40 + 20) / 8)
    # talk 660 + hold 10 + wrap-up 60 over 4 answered calls
    assert total.aht_s == pytest.approx(730 / 4)
    assert (total.voicemail, total.callback) == (1, 1)


def test_short_abandons_are_left_out_when_configured(records: dict[str, list[dict]]) -> None:
    options = ReportOptions(since_ms=T0, until_ms=T0 + 3_600_000, short_abandon_s=5)
    total = _report(records, options).total
    assert total.offered == 7 and total.abandoned == 1 and total.short_abandoned == 1
    assert total.service_level == pytest.approx(3 / 5)
    assert total.answer_rate == pytest.approx(4 / 7)


def test_per_group_and_per_agent(records: dict[str, list[dict]]) -> None:
    report = _report(records)
    sales = report.groups["sales"]
    assert (sales.offered, sales.answered, sales.abandoned) == (5, 2, 2)
    assert sales.asa_s == pytest.approx(20.0)
    assert sales.service_level == pytest.approx(1 / 4)
    assert sales.aht_s == pytest.approx((300 + 10 + 50) / 2)
    carol = report.agents["carol"]
    assert carol.answered == 2
    assert carol.aht_s == pytest.approx((360 + 10) / 2)


def test_group_filter_restricts_every_figure(records: dict[str, list[dict]]) -> None:
    options = ReportOptions(since_ms=T0, until_ms=T0 + 3_600_000, group="support")
    report = _report(records, options)
    assert report.total.offered == 3
    assert set(report.groups) == {"support"}
    assert report.callbacks_requested == 1 and report.callbacks_completed == 1
    assert dict(report.dispositions["outcome"]) == {"99": 1}


def test_disposition_distribution_and_default_flag(records: dict[str, list[dict]]) -> None:
    report = _report(records)
    assert dict(report.dispositions["outcome"]) == {"21": 1, "22": 1, "99": 1}
    assert dict(report.dispositions["intent"]) == {"40": 1}
    assert report.flagged_default_codes == 1


def test_empty_period_gives_no_ratios() -> None:
    report = compute_report([], options=DAY)
    assert report.total.offered == 0
    assert report.total.answer_rate is None and report.total.aht_s is None
