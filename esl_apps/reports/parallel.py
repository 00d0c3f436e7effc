"""Fold the record streams in parallel worker processes, straight from Redis.

A report over a million calls is bound by decoding records in Python. Each stream is folded into a
partial :class:`Report` in its own process (the figures are sums, so partial reports merge
exactly) and records are streamed batch by batch rather than held in memory.
"""

from __future__ import annotations

import json
import multiprocessing
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import redis

from esl_apps.reports.kpi import (
    Report,
    ReportOptions,
    fold_callbacks,
    fold_dispositions,
    fold_interactions,
    merge_reports,
)
from esl_apps.reports.source import STREAMS

_BATCH = 5_000
_CLOCK_SKEW_MS = 60_000


def iter_stream(client: redis.Redis, key: str, since_ms: int | None) -> Iterator[dict[str, Any]]:
    """Records of one stream from ``since_ms`` on (a record is never appended before its call
    starts, so the window's start bounds the scan; its end cannot: see source.load_from_log)."""
    lower = "-" if since_ms is None else str(max(0, since_ms - _CLOCK_SKEW_MS))
    loads = json.loads
    while True:
        entries = client.execute_command("XRANGE", key, lower, "+", "COUNT", _BATCH)
        if not entries:
            return
        for _entry_id, fields in entries:
            if len(fields) > 5 and fields[4] == b"data":  # RecordLog's order: rid, ts, data
                yield loads(fields[5])
                continue
            for i in range(0, len(fields), 2):
                if fields[i] == b"data":
                    yield loads(fields[i + 1])
                    break
        last = entries[-1][0]
        lower = "(" + (last.decode() if isinstance(last, bytes) else str(last))


def fold_stream(url: str, password: str | None, key: str, stream: str, options: ReportOptions) -> Report:
    """Worker: one stream into a partial report (runs in a child process)."""
    client = redis.Redis.from_url(url, password=password, socket_timeout=30)
    # This client object is private to the worker, so dropping XRANGE's callback (which builds a
    # dict per entry, costlier than the JSON itself) affects nothing else.
    client.response_callbacks.pop("XRANGE", None)
    try:
        report = Report(options)
        records = iter_stream(client, key, options.since_ms)
        if stream == "interactions":
            fold_interactions(report, records)
        elif stream == "dispositions":
            fold_dispositions(report, records)
        else:
            fold_callbacks(report, records, options)
        return report
    finally:
        client.close()


def report_from_redis(
    url: str, password: str | None, key_prefix: str, options: ReportOptions, *, workers: int = 2
) -> Report:
    """The whole report, one worker process per stream (at most ``workers`` at a time)."""
    context = multiprocessing.get_context("fork")
    report = Report(options)
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = [
            pool.submit(fold_stream, url, password, f"{key_prefix}:stream:{name}", name, options)
            for name in STREAMS
        ]
        for future in futures:
            merge_reports(report, future.result())
    return report
