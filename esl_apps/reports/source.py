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


_BATCH = 5_000
_RAW = "NEVER_DECODE"  # redis-py option: hand back bytes, json.loads takes them as they are


async def _fast_read(client: Any, key: str, since_ms: int | None) -> list[dict[str, Any]]:
    """XRANGE without redis-py's per-entry field-map callback, which costs more than the JSON.

    A second client object on the same connection pool has its own callback table, so removing
    XRANGE's callback there leaves every other user of the pool untouched.
    """
    client = client.__class__(connection_pool=client.connection_pool)
    client.response_callbacks.pop("XRANGE", None)
    lower = "-" if since_ms is None else str(max(0, since_ms - 60_000))
    records: list[dict[str, Any]] = []
    loads = json.loads
    while True:
        entries = await client.execute_command("XRANGE", key, lower, "+", "COUNT", _BATCH, **{_RAW: True})
        if not entries:
            return records
        for _entry_id, fields in entries:
            for i in range(0, len(fields), 2):
                if fields[i] in ("data", b"data"):
                    records.append(loads(fields[i + 1]))
                    break
        last = entries[-1][0]
        lower = "(" + (last.decode() if isinstance(last, bytes) else last)


async def load_from_log(
    log: RecordReader, since_ms: int | None, until_ms: int | None
) -> dict[str, list[dict[str, Any]]]:
    """Records that may belong to the window; the KPI code filters them by their own times.

    A record is appended when its call (or callback) ends, never before the window starts, but it
    can be appended long after the window ends (a callback completed days later), so only the
    start bounds the scan.
    """
    del until_ms  # see above: the end of the window cannot bound the append time
    out: dict[str, list[dict[str, Any]]] = {}
    client = getattr(log, "redis", None)
    for name in STREAMS:
        if client is not None and hasattr(log, "stream_key"):
            out[name] = await _fast_read(client, log.stream_key(name), since_ms)
        else:
            out[name] = [rec async for rec in log.read(name, since_ms, None)]
    return out
