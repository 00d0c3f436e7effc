"""Where report records come from: the Redis streams, or JSONL files exported from them.

Reading JSONL lets a manager report on an export (or a test on a fixture) without a live Redis.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, Protocol

STREAMS = ("interactions", "dispositions", "callbacks")


class RecordReader(Protocol):
    def read(
        self, stream: str, since_ms: int | None = None, until_ms: int | None = None
    ) -> AsyncIterator[dict[str, Any]]: ...


def iter_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """Records of one JSONL file; a missing file is an empty stream (not every export has all three)."""
    if not path.exists():
        return
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{number}: not a JSON record ({exc.msg})") from None


def load_jsonl_dir(directory: Path) -> dict[str, list[dict[str, Any]]]:
    return {name: list(iter_jsonl(directory / f"{name}.jsonl")) for name in STREAMS}


async def load_from_log(log: RecordReader, since_ms: int | None) -> dict[str, list[dict[str, Any]]]:
    """Records that may belong to the window; the KPI code filters them by their own times.

    A record is appended when its call (or callback) ends, never before the window starts, but it
    can be appended long after the window ends (a callback completed days later), so only the
    start bounds the scan.
    """
    return {name: [rec async for rec in log.read(name, since_ms, None)] for name in STREAMS}
