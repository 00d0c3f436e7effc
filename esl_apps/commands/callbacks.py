"""``esl-apps callbacks``: the callback dialer service, and the admin view of its requests.

``run`` dials due callback requests agent first over FreeSWITCH's inbound event socket
(``esl.host``/``esl.port``, password from ``esl.password_env``/``password_file``); several may
run against one Redis, on one host or several. SIGTERM/SIGINT stop it gracefully: no new
attempt starts, the ones in flight finish and record their outcome. ``--once`` dials what is due
now and exits (cron-style).

``list`` shows the open requests (due, waiting for their time, being dialled) per group in dialling
order; ``cancel`` cancels one (also while it is being dialled: the customer is not rung if the
agent has not answered yet); ``add`` schedules one by hand.

Exit codes: 0 done, 1 ``cancel`` of an unknown or finished request, 2 bad arguments or
configuration, 3 FreeSWITCH or Redis unreachable.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import re
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from esl_apps.commands._common import add_config_arguments

EXIT_OK, EXIT_NOT_FOUND, EXIT_BAD_INPUT, EXIT_UNREACHABLE = 0, 1, 2, 3
# Reconnect to a restarted FreeSWITCH within 2 s (docs/operations.md): retry at least every second.
ESL_RECONNECT_MAX_S = 1.0
log = logging.getLogger("esl_apps.callbacks")


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "callbacks",
        help="run the callback dialer; list, cancel or add callback requests",
        description="Callback requests kept in Redis, dialled agent first over inbound ESL.",
    )
    add_config_arguments(parser)
    parser.add_argument("--redis", help="Redis URL (overrides the configuration)")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    run_p = actions.add_parser("run", help="the dialer service (several may share one Redis)")
    run_p.add_argument("--once", action="store_true", help="dial what is due now, then exit")
    run_p.add_argument("--max-parallel", type=int, default=10, help="attempts in flight at once (default 10)")
    run_p.add_argument("--poll", type=float, default=2.0, help="seconds between rounds when idle (default 2)")
    run_p.add_argument("--customer-ring", type=int, default=30, help="seconds a customer rings (default 30)")
    run_p.add_argument("--spool-dir", type=Path, help="override redis.spool_dir from pbx.yaml")
    run_p.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR (default INFO)")
    run_p.add_argument("--text-logs", action="store_true", help="plain text logs instead of JSON lines")

    list_p = actions.add_parser("list", help="open requests in dialling order")
    list_p.add_argument("--group", help="only this ring group")
    list_p.add_argument("--json", action="store_true", help="one JSON object per request")

    cancel = actions.add_parser("cancel", help="cancel a request")
    cancel.add_argument("request_id", metavar="REQUEST_ID")
    cancel.add_argument("--group", help="the request's group (default: look in every group)")

    add = actions.add_parser("add", help="schedule a callback by hand")
    add.add_argument("--group", required=True, help="ring group whose agents place the call")
    add.add_argument("--number", required=True, help="the customer's number (E.164, e.g. +442071234567)")
    add.add_argument("--at", help="not before this time (ISO; no offset: UTC). Default: as soon as possible")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from esl_apps.config import ConfigError, load_config

    if args.action == "run":
        from esl_apps.commands._runtime import setup_logging

        setup_logging(args.log_level, json_lines=not args.text_logs)
    try:
        config = load_config(args.conf, args.flows)
    except ConfigError as exc:
        for issue in exc.errors:
            print(issue, file=sys.stderr)
        return EXIT_BAD_INPUT
    groups = list(config.pbx.ring_groups)
    group = getattr(args, "group", None)
    if group is not None and group not in groups:
        print(f"esl-apps callbacks: no ring group {group!r} (have: {', '.join(groups)})", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.action == "run":
        if config.pbx.callbacks is None:
            print("esl-apps callbacks run: pbx.yaml has no callbacks: section "
                  "(caller_id, dial_template, ...)", file=sys.stderr)
            return EXIT_BAD_INPUT
        return asyncio.run(serve_dialer(config, args))
    return asyncio.run(_admin(config, args))


def _client(config: Any, url: str | None) -> Any:
    from esl_apps.store.factory import redis_from_settings

    return redis_from_settings(config.pbx.redis, url)


async def _admin(config: Any, args: argparse.Namespace) -> int:
    from redis.exceptions import RedisError

    from esl_apps.config.settings import SecretUnavailable

    try:
        client = _client(config, args.redis)
    except SecretUnavailable as exc:
        print(f"esl-apps callbacks: {exc}", file=sys.stderr)
        return EXIT_UNREACHABLE
    try:
        if args.action == "list":
            return await _list(config, client, args)
        if args.action == "cancel":
            return await _cancel(config, client, args)
        return await _add(config, client, args)
    except (RedisError, OSError) as exc:
        print(f"esl-apps callbacks: Redis unreachable ({exc})", file=sys.stderr)
        return EXIT_UNREACHABLE
    finally:
        await client.aclose()


def _records(config: Any, client: Any) -> Any:
    from esl_apps.store.records import RecordLog

    settings = config.pbx.redis
    return RecordLog(client, Path(settings.spool_dir), settings.key_prefix, auto_replay=False)


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S") if ms else "-"


async def _list(config: Any, client: Any, args: argparse.Namespace) -> int:
    from esl_apps.features.callback_store import CallbackStore

    store = CallbackStore(client, config.pbx.redis.key_prefix)
    now = time.time_ns() // 1_000_000
    for group in [args.group] if args.group else list(config.pbx.ring_groups):
        for req in await store.open_requests(group):
            if args.json:
                print(json.dumps(req.as_dict(), separators=(",", ":")))
                continue
            state = req.status
            if state == "pending" and req.not_before_ms > now:
                state = f"waiting until {_when(req.not_before_ms)} UTC"
            elif state == "leased":
                state = f"dialling ({req.lease_owner})"
            print(f"{req.request_id}  {group:<12} {req.number:<16} arrived {_when(req.arrival_ms)} UTC  "
                  f"attempts {req.attempts}  {state}")
    return EXIT_OK


async def _cancel(config: Any, client: Any, args: argparse.Namespace) -> int:
    from esl_apps.features.callback_store import CallbackStore

    store = CallbackStore(client, config.pbx.redis.key_prefix)
    groups = [args.group] if args.group else list(config.pbx.ring_groups)
    req = await store.find(args.request_id, groups)
    if req is None:
        print(f"esl-apps callbacks cancel: no request {args.request_id}", file=sys.stderr)
        return EXIT_NOT_FOUND
    before = await store.cancel(req.group, req.request_id)
    if before in ("completed", "failed", "cancelled"):
        print(f"esl-apps callbacks cancel: request {req.request_id} is already {before}", file=sys.stderr)
        return EXIT_NOT_FOUND
    await _records(config, client).append("callbacks", {
        "request_id": req.request_id, "call_uuid": req.call_uuid, "number": req.number, "group": req.group,
        "event": "cancelled", "at": time.time_ns() // 1_000_000, "attempt": req.attempts,
        "outcome": "cancelled",
    })
    print(f"{req.request_id} cancelled (was {before})")
    return EXIT_OK


async def _add(config: Any, client: Any, args: argparse.Namespace) -> int:
    from esl_apps.commands._common import parse_when
    from esl_apps.features.callback_store import CallbackStore, new_request_id
    from esl_apps.features.dnc import normalise_number

    number = normalise_number(args.number)
    if not re.fullmatch(r"\+?[0-9]{6,15}", number):
        print(f"esl-apps callbacks add: {args.number!r} is not a number to call (6-15 digits, optional +)",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        not_before = parse_when(args.at) if args.at else 0
    except argparse.ArgumentTypeError as exc:
        print(f"esl-apps callbacks add: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    now = time.time_ns() // 1_000_000
    request_id = new_request_id()
    await _records(config, client).append("callbacks", {
        "request_id": request_id, "call_uuid": None, "number": number, "group": args.group,
        "event": "requested", "at": now, "attempt": 0, "outcome": None, "source": "admin",
        "arrival_ms": not_before or now, "not_before_ms": not_before,
    })
    await CallbackStore(client, config.pbx.redis.key_prefix).add(
        request_id=request_id, number=number, group=args.group, arrival_ms=not_before or now,
        not_before_ms=not_before, source="admin",
    )
    print(request_id)
    return EXIT_OK


async def serve_dialer(config: Any, args: argparse.Namespace, stop: asyncio.Event | None = None) -> int:
    """The ``run`` action: connect to Redis and FreeSWITCH, dial until stopped."""
    from redis.exceptions import RedisError

    from esl_apps.config.settings import SecretUnavailable
    from esl_apps.esl.inbound import AuthenticationError, InboundClient
    from esl_apps.features.agents import AgentStore
    from esl_apps.features.callback_dialer import CallbackDialer, DialerOptions
    from esl_apps.features.callback_store import CallbackStore
    from esl_apps.features.dnc import DncList
    from esl_apps.store.pick import GroupPicker
    from esl_apps.store.records import RecordLog

    pbx = config.pbx
    prefix = pbx.redis.key_prefix
    try:
        client = _client(config, args.redis)
        password = pbx.esl.password()
    except SecretUnavailable as exc:
        log.error("cannot start: %s", exc)
        return EXIT_UNREACHABLE
    esl = InboundClient(pbx.esl.host, pbx.esl.port, password, connect_timeout_s=pbx.esl.connect_timeout,
                        backoff_max_s=ESL_RECONNECT_MAX_S)
    try:
        await client.ping()
        await esl.connect()
    except AuthenticationError as exc:
        log.error("cannot start: %s", exc)
        await client.aclose()
        return EXIT_UNREACHABLE
    except (RedisError, OSError, TimeoutError) as exc:
        what = "Redis" if isinstance(exc, RedisError) else "FreeSWITCH"
        log.error("cannot start: %s unreachable (%s)", what, exc)
        await client.aclose()
        return EXIT_UNREACHABLE
    tz = next(iter(pbx.schedules.values())).zone if pbx.schedules else None
    records = RecordLog(client, args.spool_dir or Path(pbx.redis.spool_dir), prefix)
    dialer = CallbackDialer(
        config, store=CallbackStore(client, prefix), dnc=DncList(client, prefix),
        picker=GroupPicker(client, prefix, tz=tz), agents=AgentStore(client, prefix, tz=tz), esl=esl,
        records=records,
        options=DialerOptions(poll_interval_s=args.poll, max_parallel=args.max_parallel,
                              customer_ring_s=args.customer_ring),
    )
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.info("callback dialer %s started", dialer.owner)
    try:
        stats = await dialer.run(stop=stop, once=args.once)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        await dialer.close()
        await esl.close()
        await records.close()
        await client.aclose()
    log.info("callback dialer stopped: %s", stats)
    return EXIT_OK
