#!/usr/bin/env python3
"""The example configuration's main line on `esl-apps serve`'s stack, for bench_runtime.py --engine.

Built like serve's Service: records through serve's record log on Redis (trace and consent records,
spooled to disk when Redis is down), the FlowEngine behind call_handler(), the OutboundServer, JSON log
lines at INFO (to a file). One difference, on purpose: no Redis ring-group hunter, so a ring group bridges
its members' dial strings and every Redis command counted belongs to the flow's trace and consent records
(issue 4's budget); the ring-group engine has its own benchmarks. The clock is pinned to Monday 10:00 so
the office-hours branch takes the open path whatever the time of the run.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path

import flow

from esl_apps.commands._runtime import call_handler, setup_logging
from esl_apps.commands._simulation import scratch_config
from esl_apps.commands.serve import _records
from esl_apps.config import load_config
from esl_apps.engine import FlowEngine
from esl_apps.esl.outbound import OutboundServer, OutboundSession

OPEN = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a Monday morning: office open


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--max-calls", type=int, default=2500)
    ap.add_argument("--redis-url", required=True)
    ap.add_argument("--workdir", type=Path, required=True)
    args = ap.parse_args()
    flow.raise_fd_limit()
    args.workdir.mkdir(parents=True, exist_ok=True)
    setup_logging("INFO", json_lines=True, stream=(args.workdir / "serve.log").open("a"))
    config = scratch_config(load_config(), args.workdir)
    config = dataclasses.replace(config, pbx=config.pbx.model_copy(
        update={"esl": config.pbx.esl.model_copy(update={"max_calls": args.max_calls})}))
    _client, records = _records(config, args.redis_url, args.workdir / "spool")
    log = logging.getLogger("esl_apps.engine")
    engine = FlowEngine(config, records=records, clock=lambda: OPEN, logger=log)
    serve = call_handler(engine)

    async def handler(session: OutboundSession) -> None:
        flow.on_call()
        await serve(session)

    server = OutboundServer(handler, args.host, args.port, max_calls=args.max_calls)
    await server.start()
    records.start_replayer()
    flow.ready(server.port)
    await server.serve_forever()


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    flow.exit_on_sigterm()
    asyncio.run(main())
