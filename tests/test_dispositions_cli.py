"""``esl-apps dispositions export`` and ``dispositions dnc`` against a real Redis."""

from __future__ import annotations

import asyncio
import csv
import json
import stat
from datetime import UTC, datetime

import pytest
import redis.asyncio as aioredis

from esl_apps.cli import main
from esl_apps.commands.dispositions import parse_when
from esl_apps.store.records import RecordLog

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
CALLBACK_MS = int(datetime(2026, 11, 25, 14, 30, tzinfo=UTC).timestamp() * 1000)


def _seed(redis_url, tmp_path, records):
    async def go():
        client = aioredis.from_url(redis_url)
        log = RecordLog(client, tmp_path / "spool")
        for record in records:
            await log.append("dispositions", record)
        await log.close()
        await client.aclose()

    asyncio.run(go())


def _record(n: int, **extra):
    return {
        "call_uuid": f"call-{n}", "agent": "alice" if n % 2 else "bob", "group": "sales",
        "codes": ["23", "40"], "categories": {"outcome": "23", "intent": "40"}, "source": "agent",
        "flagged": False, "wrapup_s": 12.5, "captured_at": 1_795_000_000_000 + n,
        "system_outcome": "answered", "offered_at": 1_794_999_000_000, "number": "+447700900123", **extra,
    }


def test_export_csv_has_one_column_per_category_and_a_private_file(redis_url, tmp_path, capsys):
    default = _record(2, codes=["24"], categories={"outcome": "24"}, flagged=True, source="default",
                      callback_at=CALLBACK_MS)
    _seed(redis_url, tmp_path, [_record(1), default])
    out = tmp_path / "dispositions.csv"
    code = main(["dispositions", "--redis", redis_url, "export", "--since", "1h", "--format", "csv",
                 "--out", str(out)])
    assert code == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    rows = list(csv.DictReader(out.open()))
    assert [r["call_uuid"] for r in rows] == ["call-1", "call-2"]
    assert rows[0]["codes"] == "23 40" and rows[0]["outcome"] == "23" and rows[0]["intent"] == "40"
    assert rows[0]["sentiment"] == "" and rows[0]["flagged"] == "false"
    assert rows[1]["flagged"] == "true" and rows[1]["source"] == "default"
    assert rows[1]["callback_at"] == "2026-11-25T14:30:00+00:00"
    assert "2 disposition(s) written" in capsys.readouterr().err


def test_export_jsonl_filters_by_agent_and_period(redis_url, tmp_path, capsys):
    _seed(redis_url, tmp_path, [_record(n) for n in range(1, 6)])
    code = main(["dispositions", "--redis", redis_url, "export", "--since", "2020-01-01",
                 "--format", "jsonl", "--agent", "bob"])
    assert code == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["call_uuid"] for r in lines] == ["call-2", "call-4"]
    assert "_rid" not in lines[0] and lines[0]["categories"] == {"outcome": "23", "intent": "40"}
    code = main(["dispositions", "--redis", redis_url, "export", "--since", "2020-01-01",
                 "--until", "2020-02-01", "--format", "jsonl"])
    assert code == 0 and capsys.readouterr().out == ""


def test_export_rejects_a_bad_time(redis_url, capsys):
    assert main(["dispositions", "--redis", redis_url, "export", "--since", "yesterday"]) == 2
    assert "expected an ISO date" in capsys.readouterr().err


def _ms(*parts: int) -> int:
    return int(datetime(*parts, tzinfo=UTC).timestamp() * 1000)


def test_parse_when_reads_iso_and_spans():
    assert parse_when("2026-11-24T10:00", NOW) == _ms(2026, 11, 24, 10)
    assert parse_when("2026-11-24T10:00+01:00", NOW) == _ms(2026, 11, 24, 9)
    assert parse_when("90m", NOW) == _ms(2026, 11, 24, 10, 30)
    assert parse_when("2w", NOW) == _ms(2026, 11, 10, 12)


def test_dnc_add_check_remove_list(redis_url, capsys):
    base = ["dispositions", "--redis", redis_url, "dnc"]
    assert main([*base, "add", "+44 20 7123 4567", "0044 20 7123 4568"]) == 0
    assert capsys.readouterr().out.splitlines() == ["+442071234567\tadded", "+442071234568\tadded"]
    assert main([*base, "check", "+442071234567", "+442071234569"]) == 1
    assert capsys.readouterr().out.splitlines() == ["+442071234567\tlisted", "+442071234569\tnot listed"]
    assert main([*base, "remove", "+44 (20) 7123-4567"]) == 0
    capsys.readouterr()
    assert main([*base, "list"]) == 0
    assert capsys.readouterr().out.splitlines() == ["+442071234568"]
    assert main([*base, "check", "+442071234567"]) == 0


@pytest.mark.parametrize("action", ["add", "remove", "check"])
def test_dnc_needs_a_number(redis_url, action, capsys):
    assert main(["dispositions", "--redis", redis_url, "dnc", action]) == 2
    assert "give at least one NUMBER" in capsys.readouterr().err
