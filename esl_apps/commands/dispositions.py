"""``esl-apps dispositions``: export the disposition records; manage the do-not-call list.

``export`` reads the ``dispositions`` record stream (the source of truth: one record per call the
agents handled, plus system codes) for a period and writes CSV (one column per codebook category,
for spreadsheets) or JSON lines (the records as stored, for other tools and for
``esl-apps report --input``). The files name customers' numbers, so ``--out`` files are created
readable by their owner only.

``dnc`` adds, removes, checks and lists numbers on the do-not-call list every dial of this project
consults. Changes are also written to the ``dnc`` record stream (an audit trail, and what the
dialers replay after an outage).

Exit codes: 0 done, 1 ``dnc check`` found a number listed, 2 bad arguments or configuration,
3 Redis unreachable.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from esl_apps.commands._common import add_config_arguments, parse_when

EXIT_OK, EXIT_FOUND, EXIT_BAD_INPUT, EXIT_UNREACHABLE = 0, 1, 2, 3


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "dispositions",
        help="export disposition records (CSV or JSON lines); manage the do-not-call list",
        description="Disposition records from Redis, and the do-not-call list. Times without an offset "
        "are UTC.",
    )
    add_config_arguments(parser)
    parser.add_argument("--redis", help="Redis URL (overrides the configuration)")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    export = actions.add_parser("export", help="write the dispositions of a period as CSV or JSON lines")
    export.add_argument("--since", required=True, help="start: ISO date/date-time, or a span back (24h, 7d)")
    export.add_argument("--until", help="end (inclusive; default: now)")
    export.add_argument("--format", choices=("csv", "jsonl"), default="csv")
    export.add_argument("--out", type=Path, help="write to this file (mode 0600) instead of standard output")
    export.add_argument("--group", help="only this ring group")
    export.add_argument("--agent", help="only this agent")

    dnc = actions.add_parser("dnc", help="the do-not-call list: add, remove, check, list")
    dnc.add_argument("dnc_action", choices=("add", "remove", "check", "list"))
    dnc.add_argument("numbers", nargs="*", metavar="NUMBER")
    dnc.add_argument("--reason", default="admin", help="why (stored with add/remove; default: admin)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from esl_apps.config import ConfigError, load_config

    try:
        config = load_config(args.conf, args.flows)
    except ConfigError as exc:
        for issue in exc.errors:
            print(issue, file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.action == "export":
        try:
            since = parse_when(args.since)
            until = parse_when(args.until) if args.until else None
        except argparse.ArgumentTypeError as exc:
            print(f"esl-apps dispositions export: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
        if until is not None and until < since:
            print("esl-apps dispositions export: --until is before --since", file=sys.stderr)
            return EXIT_BAD_INPUT
        return asyncio.run(_with_redis(config, args, lambda log: _export(config, log, args, since, until)))
    if args.dnc_action in ("add", "remove", "check") and not args.numbers:
        print(f"esl-apps dispositions dnc {args.dnc_action}: give at least one NUMBER", file=sys.stderr)
        return EXIT_BAD_INPUT
    return asyncio.run(_with_redis(config, args, lambda log: _dnc(config, log, args)))


async def _with_redis(config: Any, args: argparse.Namespace, work: Any) -> int:
    from redis.exceptions import RedisError

    from esl_apps.config.settings import SecretUnavailable
    from esl_apps.store.factory import redis_from_settings
    from esl_apps.store.records import RecordLog

    settings = config.pbx.redis
    try:
        client = redis_from_settings(settings, args.redis)
    except SecretUnavailable as exc:
        print(f"esl-apps dispositions: {exc}", file=sys.stderr)
        return EXIT_UNREACHABLE
    log = RecordLog(client, Path(settings.spool_dir), settings.key_prefix, auto_replay=False)
    try:
        return int(await work(log))
    except (RedisError, OSError) as exc:
        print(f"esl-apps dispositions: Redis unreachable ({exc})", file=sys.stderr)
        return EXIT_UNREACHABLE
    finally:
        await client.aclose()


async def _export(config: Any, log: Any, args: argparse.Namespace, since: int, until: int | None) -> int:
    records = []
    async for record in log.read("dispositions", since, until):
        if args.group and record.get("group") != args.group:
            continue
        if args.agent and record.get("agent") != args.agent:
            continue
        record.pop("_rid", None)
        record.pop("_ts_ms", None)
        records.append(record)
    records.sort(key=lambda r: (r.get("captured_at") or 0, str(r.get("call_uuid"))))
    categories = list(config.dispositions.categories)
    with _output(args.out) as out:
        write_export(records, args.format, categories, out)
    if args.out:
        print(f"{len(records)} disposition(s) written to {args.out}", file=sys.stderr)
    return EXIT_OK


def write_export(records: list[dict[str, Any]], fmt: str, categories: list[str], out: TextIO) -> None:
    from esl_apps.features.dispositions_store import CSV_FIELDS, csv_row

    if fmt == "jsonl":
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
        return
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*CSV_FIELDS, *categories])
    for record in records:
        writer.writerow(csv_row(record, categories))


class _output:
    """Standard output, or a file created mode 0600 (it holds customers' numbers)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.handle: TextIO | None = None

    def __enter__(self) -> TextIO:
        if self.path is None:
            return sys.stdout
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)
        self.handle = os.fdopen(fd, "w", encoding="utf-8", newline="")
        return self.handle

    def __exit__(self, *exc: object) -> None:
        if self.handle is not None:
            self.handle.close()


async def _dnc(config: Any, log: Any, args: argparse.Namespace) -> int:
    from esl_apps.features.dnc import DNC_STREAM, DncList

    dnc = DncList(log.redis, config.pbx.redis.key_prefix)
    if args.dnc_action == "list":
        for number in await dnc.numbers():
            print(number)
        return EXIT_OK
    if args.dnc_action == "check":
        blocked = await dnc.blocked_of(args.numbers)
        for number in args.numbers:
            print(f"{number}\t{'listed' if number in blocked else 'not listed'}")
        return EXIT_FOUND if blocked else EXIT_OK
    for number in args.numbers:
        now = time.time_ns() // 1_000_000
        await log.append(DNC_STREAM, {"action": args.dnc_action, "number": number, "reason": args.reason,
                                      "at": now, "by": os.environ.get("USER") or "admin"})
        changed = await (dnc.add(number) if args.dnc_action == "add" else dnc.remove(number))
        state = {"add": ("added", "already listed"), "remove": ("removed", "was not listed")}[args.dnc_action]
        print(f"{dnc.normalise(number)}\t{state[0] if changed else state[1]}")
    return EXIT_OK
