"""``esl-apps report``: KPIs for a period, as a terminal table, CSV or a self-contained HTML page."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import redis

from esl_apps.commands._common import add_config_arguments, parse_when
from esl_apps.reports.kpi import Report, ReportOptions, compute_report
from esl_apps.reports.render import render_csv, render_html, render_table
from esl_apps.reports.source import load_from_log, load_jsonl_dir

if TYPE_CHECKING:
    from esl_apps.config import Config


def _epoch_ms(text: str | None) -> int | None:
    return None if text is None else parse_when(text)


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "report",
        help="KPI report (answer rate, ASA, service level, abandon rate, AHT, dispositions)",
        description="Compute call-centre KPIs for a period from the Redis record streams "
        "(or from JSONL exports with --input). Times without an offset are UTC.",
    )
    parser.add_argument(
        "--from", dest="since", help="start of the period (ISO, e.g. 2026-11-23 or 2026-11-23T08:00)"
    )
    parser.add_argument("--to", dest="until", help="end of the period (ISO; inclusive)")
    parser.add_argument("--group", help="only this ring group")
    parser.add_argument("--agent", help="only calls answered by this agent")
    parser.add_argument("--format", choices=("table", "csv", "html"), default="table")
    parser.add_argument("--out", type=Path, help="write to this file instead of standard output")
    parser.add_argument(
        "--input", type=Path, help="directory of interactions/dispositions/callbacks .jsonl files"
    )
    add_config_arguments(parser)
    parser.add_argument("--redis", help="Redis URL (overrides the configuration)")
    parser.add_argument(
        "--service-level",
        type=float,
        default=20.0,
        metavar="SECONDS",
        help="answer threshold of the service level (default 20)",
    )
    parser.add_argument(
        "--service-level-target",
        type=float,
        default=0.80,
        metavar="RATIO",
        help="service level target shown on charts (default 0.80)",
    )
    parser.add_argument(
        "--short-abandon",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="abandons quicker than this are excluded (default 0: all count)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        since_ms, until_ms = _epoch_ms(args.since), _epoch_ms(args.until)
    except argparse.ArgumentTypeError as exc:
        print(f"esl-apps report: {exc}", file=sys.stderr)
        return 2
    labels: dict[str, str] = {}
    config = None
    if args.input is None or args.conf is not None:
        from esl_apps.config import ConfigError, load_config

        try:
            config = load_config(args.conf, args.flows)
        except ConfigError as exc:
            for issue in exc.issues:
                print(issue, file=sys.stderr)
            return 2
        labels = {code.code: code.label for code in config.dispositions.codes}
    options = ReportOptions(
        service_level_s=args.service_level,
        service_level_target=args.service_level_target,
        short_abandon_s=args.short_abandon,
        group=args.group,
        agent=args.agent,
        since_ms=since_ms,
        until_ms=until_ms,
    )
    try:
        if args.input is not None:
            records = load_jsonl_dir(args.input)
            report = compute_report(
                records["interactions"], records["dispositions"], records["callbacks"], options
            )
        else:
            assert config is not None
            report = _report_from_redis(config, args.redis, options)
    except ValueError as exc:
        print(f"esl-apps report: {exc}", file=sys.stderr)
        return 2
    except (OSError, ConnectionError) as exc:
        print(f"esl-apps report: cannot read the records: {exc}", file=sys.stderr)
        return 3
    if args.format == "csv":
        text = render_csv(report)
    elif args.format == "html":
        text = render_html(report, labels)
    else:
        text = render_table(report, labels)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def _report_from_redis(config: Config, url: str | None, options: ReportOptions) -> Report:
    """Parallel workers read a plain Redis URL; a Sentinel setup is read in-process."""
    from redis.exceptions import RedisError

    from esl_apps.config.settings import SecretUnavailable
    from esl_apps.reports.parallel import report_from_redis

    settings = config.pbx.redis
    try:
        password = settings.password()
    except SecretUnavailable as exc:
        raise ConnectionError(f"Redis password: {exc}") from None
    if url is None and settings.sentinel is not None:
        records = asyncio.run(_sentinel_records(config, options.since_ms))
        return compute_report(records["interactions"], records["dispositions"], records["callbacks"], options)
    target = url or settings.effective_url
    try:
        with redis.Redis.from_url(target, password=password, socket_timeout=5) as probe:
            probe.ping()  # a clear exit 3 before worker processes start
        return report_from_redis(target, password, settings.key_prefix, options)
    except (RedisError, OSError) as exc:
        raise ConnectionError(f"Redis is unreachable ({exc})") from None


async def _sentinel_records(config: Config, since_ms: int | None) -> dict[str, list[dict[str, Any]]]:
    """The records through the Sentinel-aware client, in this process (the password was checked
    by the caller)."""
    from redis.exceptions import RedisError

    from esl_apps.store.factory import redis_from_settings
    from esl_apps.store.records import RecordLog

    client = redis_from_settings(config.pbx.redis)
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        raise ConnectionError(f"Redis is unreachable ({exc})") from None
    log = RecordLog(client, Path(config.pbx.redis.spool_dir), config.pbx.redis.key_prefix, auto_replay=False)
    try:
        return await load_from_log(log, since_ms)
    finally:
        await client.aclose()
