"""The JSONL audit file: private, appended before the call continues, fsync batched."""

from __future__ import annotations

import asyncio
import os
import shutil
import stat

import pytest

from esl_apps.features.recording_audit import AuditFile


@pytest.mark.parametrize("interval", [0.0, 0.05])
def test_lines_are_in_the_file_when_append_returns(tmp_path, interval):
    audit = AuditFile(tmp_path / "a" / "b" / "audit.jsonl", fsync_interval_s=interval)

    async def scenario():
        seen = []
        for n in range(3):
            assert await audit.append({"call_uuid": f"u{n}", "n": n})
            seen.append(len(audit.read()))
        await audit.close()
        return seen

    assert asyncio.run(scenario()) == [1, 2, 3]
    assert [r["n"] for r in audit.read()] == [0, 1, 2]
    assert stat.S_IMODE((tmp_path / "a").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "a" / "b").stat().st_mode) == 0o700
    assert stat.S_IMODE(audit.path.stat().st_mode) == 0o600


def test_a_world_readable_file_is_made_private(tmp_path):
    path = tmp_path / "audit.jsonl"
    path.write_text("")
    os.chmod(path, 0o644)
    audit = AuditFile(path)
    asyncio.run(audit.append({"x": 1}))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_removed_directory_is_recreated(tmp_path):
    audit = AuditFile(tmp_path / "d" / "audit.jsonl")
    asyncio.run(audit.append({"x": 1}))
    shutil.rmtree(tmp_path / "d")
    assert asyncio.run(audit.append({"x": 2}))
    assert audit.read() == [{"x": 2}]


def test_an_unwritable_audit_is_reported_not_raised(tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("")
    audit = AuditFile(blocker / "audit.jsonl")
    assert asyncio.run(audit.append({"call_uuid": "u1"})) is False
    assert "cannot write audit file" in caplog.text and "u1" in caplog.text
