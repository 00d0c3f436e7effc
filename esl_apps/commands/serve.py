"""``esl-apps serve``: run the IVR flows for real calls.

FreeSWITCH's ``socket <host:port> async full`` connects here once per call; each call runs its
DID's flow. Records (traces, consent) go to Redis and are spooled to disk while it is down.
SIGTERM/SIGINT stop gracefully: new calls are refused at once (their socket closes, so the
dialplan fallback takes them), active calls get ``--grace`` seconds to finish.

Exit codes: 0 stopped cleanly, 2 bad configuration or arguments, 3 a service could not be used
(the listen port is taken, the spool directory is not writable, a secret is missing).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

from esl_apps.commands._common import add_config_arguments
from esl_apps.commands._dispatch import CallRouter
from esl_apps.commands._runtime import HealthServer, call_handler, parse_host_port, setup_logging
from esl_apps.config import Config, ConfigError, load_config
from esl_apps.engine import FlowEngine
from esl_apps.engine.trace import log_event
from esl_apps.esl.heap import CallHeap
from esl_apps.esl.outbound import OutboundServer

EXIT_OK, EXIT_CONFIG, EXIT_SERVICE = 0, 2, 3
log = logging.getLogger("esl_apps.serve")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the IVR flows for FreeSWITCH (outbound ESL server) with a health check",
        description=(
            "Listen for FreeSWITCH outbound ESL connections (the dialplan's socket action) and run each "
            "call's IVR flow. Logs are JSON lines on stderr. SIGTERM stops gracefully. "
            "Exit status: 0 stopped, 2 configuration error, 3 service error."
        ),
    )
    add_config_arguments(parser)
    parser.add_argument("--listen", default=None, help="HOST:PORT to listen on (default: esl.app_listen)")
    parser.add_argument(
        "--health",
        default="127.0.0.1:8085",
        help="HOST:PORT of the HTTP health check, GET /health (default 127.0.0.1:8085; 'off' to disable)",
    )
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        help="serve Prometheus metrics on GET /metrics at this port (e.g. 9464; default: off)",
    )
    parser.add_argument(
        "--metrics-host", default="127.0.0.1", help="address of the metrics port (default 127.0.0.1)"
    )
    parser.add_argument(
        "--grace", type=float, default=30.0, help="seconds active calls get on stop (default 30)"
    )
    parser.add_argument("--redis-url", default=None, help="override redis.url from pbx.yaml")
    parser.add_argument("--spool-dir", type=Path, default=None, help="override redis.spool_dir from pbx.yaml")
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR (default INFO)")
    parser.add_argument("--text-logs", action="store_true", help="plain text logs instead of JSON lines")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    setup_logging(args.log_level, json_lines=not args.text_logs)
    try:
        config = load_config(args.conf, args.flows)
    except ConfigError as exc:
        for issue in exc.errors:
            print(issue, file=sys.stderr)
        return EXIT_CONFIG
    try:
        listen = (
            parse_host_port(args.listen)
            if args.listen
            else (config.pbx.esl.listen_host, config.pbx.esl.listen_port)
        )
        health = None if args.health == "off" else parse_host_port(args.health)
        metrics = None
        if args.metrics_port is not None:
            if not 0 <= args.metrics_port <= 65535:
                raise ValueError(f"--metrics-port: expected 0-65535, got {args.metrics_port}")
            metrics = (args.metrics_host, args.metrics_port)
    except ValueError as exc:
        print(f"esl-apps serve: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    return asyncio.run(
        serve(
            config,
            listen=listen,
            health=health,
            grace_s=args.grace,
            redis_url=args.redis_url,
            spool_dir=args.spool_dir,
            metrics=metrics,
        )
    )


def _records(config: Config, redis_url: str | None, spool_dir: Path | None) -> tuple[Any, Any]:
    from esl_apps.config.pbx import SecretUnavailable
    from esl_apps.store.factory import redis_from_settings
    from esl_apps.store.records import RecordLog

    settings = config.pbx.redis
    try:
        client = redis_from_settings(settings, redis_url)
    except SecretUnavailable as exc:
        raise ServiceError(f"redis: {exc}") from None
    spool = spool_dir or Path(settings.spool_dir)
    try:  # fail at start, not at the first Redis outage, when records could not be kept
        spool.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not os.access(spool, os.W_OK | os.X_OK):
            raise PermissionError(13, "not writable")
    except OSError as exc:
        raise ServiceError(f"spool directory {spool}: {exc.strerror}") from None
    return client, RecordLog(client, spool, settings.key_prefix)


def _applications(
    config: Config, client: Any, records: Any, recaller: Any = None
) -> tuple[Any, Any, Any]:
    """(ringer, agents, wrap-up app): ring groups and queues hunt by strategy over shared agent
    state in Redis (every member rings when Redis is down); wrap-up legs capture dispositions."""
    from esl_apps.features.agents import AgentStore
    from esl_apps.features.dispositions import DispositionApp
    from esl_apps.features.ringgroup_runtime import RedisGroupRinger

    pbx = config.pbx
    tz = next(iter(pbx.schedules.values())).zone if pbx.schedules else None
    agents = AgentStore(client, pbx.redis.key_prefix, tz=tz)
    wrapup = DispositionApp(config, records, agents, recaller=recaller)
    ringer = RedisGroupRinger.from_config(config, client, records, dispositions=wrapup)
    return ringer, agents, wrapup


async def _recaller(config: Config) -> tuple[Any, Any]:
    """(inbound client, AgentRecaller) when ``capture.recall_agent`` asks to ring an agent who hung
    up first back into wrap-up; that needs inbound ESL (originate). (None, None) otherwise, and
    also when FreeSWITCH cannot be reached now: those calls then get the default code, flagged."""
    if not config.dispositions.capture.recall_agent:
        return None, None
    from esl_apps.config.settings import SecretUnavailable
    from esl_apps.esl.inbound import AuthenticationError, InboundClient
    from esl_apps.features.dispositions_recall import AgentRecaller

    esl = config.pbx.esl
    try:
        client = InboundClient(esl.host, esl.port, esl.password(), connect_timeout_s=esl.connect_timeout)
        await client.connect()
    except (SecretUnavailable, AuthenticationError) as exc:
        raise ServiceError(f"inbound ESL for capture.recall_agent: {exc}") from None
    except OSError as exc:
        log.warning("capture.recall_agent: inbound ESL %s:%s unreachable (%s); agents who hang up first "
                    "get the default code", esl.host, esl.port, exc)
        return None, None
    return client, AgentRecaller(client, config.pbx)


class ServiceError(Exception):
    """Something outside the configuration prevents serving (exit 3)."""


class Service:
    """The running application: records, engine, outbound ESL server and health check.

    ``start`` raises :class:`ServiceError` when something outside the configuration is missing;
    ``stop`` refuses new calls at once and gives active ones ``grace_s`` seconds.
    """

    def __init__(
        self,
        config: Config,
        *,
        listen: tuple[str, int],
        health: tuple[str, int] | None,
        grace_s: float = 30.0,
        redis_url: str | None = None,
        spool_dir: Path | None = None,
        metrics: tuple[str, int] | None = None,
    ) -> None:
        """``metrics``: (host, port) of GET /metrics (``esl_apps.ops``); None: no metrics."""
        self.config = config
        self.listen = listen
        self.health = health
        self.grace_s = grace_s
        self.redis_url = redis_url
        self.spool_dir = spool_dir
        self.client: Any = None
        self.records: Any = None
        self.engine: FlowEngine | None = None
        self.ringer: Any = None
        self.wrapup: Any = None
        self.inbound: Any = None  # inbound ESL, only for capture.recall_agent
        self.server: OutboundServer | None = None
        self.checker = HealthServer(self.status)
        self.metrics_address = metrics
        self.metrics: Any = None
        self.metrics_server: Any = None

    @property
    def port(self) -> int:
        return self.server.port if self.server else 0

    async def status(self) -> dict[str, Any]:
        try:
            await asyncio.wait_for(self.client.ping(), 0.5)
            redis_state = "ok"
        except Exception:  # any failure means the same to an operator: records are being spooled
            redis_state = "unreachable (records spooled to disk)"
        server = self.server
        return {
            "status": "ok",
            "active_calls": server.active_calls if server else 0,
            "max_calls": server.max_calls if server else 0,
            "refused_calls": server.refused_calls if server else 0,
            "redis": redis_state,
        }

    async def start(self) -> None:
        self.client, self.records = _records(self.config, self.redis_url, self.spool_dir)
        self.inbound, recaller = await _recaller(self.config)
        self.ringer, agents, self.wrapup = _applications(self.config, self.client, self.records, recaller)
        self.engine = FlowEngine(
            self.config, records=self.records, ringer=self.ringer, logger=logging.getLogger("esl_apps.engine")
        )
        app: Any = CallRouter(self.config, self.engine, agents=agents, wrapup=self.wrapup)
        if self.metrics_address is not None:
            from esl_apps.ops.http import MetricsServer
            from esl_apps.ops.serve_metrics import ServeMetrics

            self.metrics = ServeMetrics(self.config)
            app = self.metrics.wrap(app)
            self.metrics_server = MetricsServer(self.metrics.registry)
        esl = self.config.pbx.esl
        self.server = OutboundServer(
            call_handler(app), self.listen[0], self.listen[1], max_calls=esl.max_calls,
            heap=CallHeap(sweep_interval_s=esl.gc_sweep_interval),
        )
        if self.metrics is not None:
            self.metrics.attach(self)
        try:
            await self.server.start()
            if self.health is not None:
                await self.checker.start(*self.health)
            if self.metrics_server is not None and self.metrics_address is not None:
                await self.metrics_server.start(*self.metrics_address)
        except OSError as exc:
            await self.stop()
            raise ServiceError(f"cannot listen: {exc}") from None
        self.records.start_replayer()
        log_event(
            log,
            {
                "event": "serve_ready",
                "listen": f"{self.server.host}:{self.server.port}",
                "health": f"{self.health[0]}:{self.checker.port}" if self.health else None,
                "metrics": (
                    f"{self.metrics_server.host}:{self.metrics_server.port}" if self.metrics_server else None
                ),
                "flows": sorted(self.config.flows),
                "max_calls": self.server.max_calls,
            },
        )

    async def stop(self) -> None:
        self.checker.stopping = True
        server = self.server
        if server is not None:
            log_event(
                log, {"event": "serve_stopping", "active_calls": server.active_calls, "grace_s": self.grace_s}
            )
            await server.stop(self.grace_s)
        if self.engine is not None:
            await self.engine.close()
        if self.ringer is not None:
            await self.ringer.aclose()
        if self.wrapup is not None:
            await self.wrapup.close()
        if self.inbound is not None:
            await self.inbound.close()
        await self.checker.close()
        if self.metrics_server is not None:
            await self.metrics_server.close()
        if self.records is not None:
            await self.records.close()
        if self.client is not None:
            await self.client.aclose()
        log_event(log, {"event": "serve_stopped", "refused_calls": server.refused_calls if server else 0})


async def serve(
    config: Config,
    *,
    listen: tuple[str, int],
    health: tuple[str, int] | None,
    grace_s: float = 30.0,
    redis_url: str | None = None,
    spool_dir: Path | None = None,
    stop: asyncio.Event | None = None,
    metrics: tuple[str, int] | None = None,
) -> int:
    stop = stop or asyncio.Event()
    service = Service(
        config,
        listen=listen,
        health=health,
        grace_s=grace_s,
        redis_url=redis_url,
        spool_dir=spool_dir,
        metrics=metrics,
    )
    try:
        await service.start()
    except ServiceError as exc:
        log.error("cannot start: %s", exc)
        return EXIT_SERVICE
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        await service.stop()
    return EXIT_OK
