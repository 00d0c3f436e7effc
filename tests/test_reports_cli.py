"""`esl-apps report` end to end: from JSONL exports and from the Redis streams."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from html.parser import HTMLParser
from pathlib import Path

import pytest

from esl_apps.cli import main
from esl_apps.store.connect import connect
from esl_apps.store.records import RecordLog
from tests.conftest import FIXTURES

PERIOD = ["--from", "2026-11-23T00:00", "--to", "2026-11-23T23:59"]  # T0 of the fixture is 02:13 UTC


def test_table_from_jsonl(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--input", str(FIXTURES / "reports"), *PERIOD]) == 0
    out = capsys.readouterr().out
    total = next(line for line in out.splitlines() if line.startswith("total"))
    assert "50.0%" in total and "25.0%" in total and "16.2s" in total
    assert "Dispositions [outcome]" in out


def test_csv_columns(tmp_path: Path) -> None:
    target = tmp_path / "r.csv"
    assert (
        main(
            ["report", "--input", str(FIXTURES / "reports"), *PERIOD, "--format", "csv", "--out", str(target)]
        )
        == 0
    )
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    total = next(r for r in rows if r["scope"] == "total")
    assert float(total["answer_rate"]) == pytest.approx(0.5)
    assert float(total["aht_s"]) == pytest.approx(182.5)


def test_html_is_self_contained(tmp_path: Path) -> None:
    target = tmp_path / "r.html"
    assert (
        main(
            [
                "report",
                "--input",
                str(FIXTURES / "reports"),
                *PERIOD,
                "--format",
                "html",
                "--out",
                str(target),
            ]
        )
        == 0
    )
    page = target.read_text()
    HTMLParser().feed(page)
    assert "<svg" in page and "Service level by group" in page
    assert "http://" not in page and "https://" not in page  # no external assets


def test_bad_date_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--input", str(FIXTURES / "reports"), "--from", "yesterday"]) == 2
    assert "ISO" in capsys.readouterr().err


def test_report_reads_redis_streams(redis_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    async def seed() -> None:
        client = connect(redis_url)
        log = RecordLog(client, Path("/nonexistent-spool"), "esl", auto_replay=False)
        for name in ("interactions", "dispositions", "callbacks"):
            for line in (FIXTURES / "reports" / f"{name}.jsonl").read_text().splitlines():
                await log.append(name, json.loads(line))
        await client.aclose()

    asyncio.run(seed())
    assert main(["report", "--redis", redis_url, "--format", "csv", *PERIOD]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    total = next(r for r in rows if r["scope"] == "total")
    assert int(total["offered"]) == 8 and int(total["answered"]) == 4


def test_in_process_reader_and_parallel_workers_agree(redis_url: str) -> None:
    """Sentinel setups are read in-process through RecordLog; plain URLs by worker processes."""
    from esl_apps.reports.kpi import ReportOptions, compute_report
    from esl_apps.reports.parallel import report_from_redis
    from esl_apps.reports.source import load_from_log

    options = ReportOptions(since_ms=1_795_400_000_000, until_ms=1_795_400_000_000 + 3_600_000)

    async def in_process():
        client = connect(redis_url)
        log = RecordLog(client, Path("/nonexistent-spool"), "esl", auto_replay=False)
        for name in ("interactions", "dispositions", "callbacks"):
            for line in (FIXTURES / "reports" / f"{name}.jsonl").read_text().splitlines():
                await log.append(name, json.loads(line))
        records = await load_from_log(log, None)
        await client.aclose()
        return compute_report(records["interactions"], records["dispositions"], records["callbacks"], options)

    serial = asyncio.run(in_process())
    parallel = report_from_redis(redis_url, None, "esl", options)
    assert serial.total.as_dict() == parallel.total.as_dict()
    assert serial.total.offered == 8
    assert dict(serial.dispositions["outcome"]) == dict(parallel.dispositions["outcome"])
