"""Benchmark: writing a disposition, as the wrap-up leg does when the agent has keyed the codes.

Starts its own redis-server on a free loopback port and times, from the caller's side (redis-py
and the event loop included), two things over ``--writes`` dispositions each:

* ``record``: the record write alone, ``RecordLog.append("dispositions", record, doc_key=...)``,
  i.e. one Lua script that stores the stream entry, the ``disposition:<uuid>`` document and the
  exactly-once marker in one round trip;
* ``store``: everything ``DispositionApp`` does after the last key: merge and check the codes,
  build the record, write it, and run the follow-ups (codes without actions: no extra Redis work).

Each runs three ways: one after the other (latency alone); open loop at ``--rate`` writes per
second, each write started on schedule whether or not the earlier ones have finished (latency
under load: a large centre finishes far fewer than 1,000 calls a second); and closed loop with
``--concurrency`` writers back to back (the most one process can write; latency there is mostly
queueing behind the other writers).

Usage: python scripts/bench_dispositions.py [--writes 20000] [--rate 1000] [--concurrency 50]
Goal (issue 6): disposition write p99 < 2 ms. The load average is printed: on a busy machine the
client-side tail moves while Redis' own time per write does not.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import MappingProxyType

import redis.asyncio as aioredis
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from esl_apps import resources
from esl_apps.config import Config
from esl_apps.config.dispositions import Codebook
from esl_apps.config.pbx import PbxConfig
from esl_apps.features.dispositions import DispositionApp
from esl_apps.features.dispositions_store import WrapupLink
from esl_apps.features.followups import Followups
from esl_apps.store.records import RecordLog
from tests.support.redis_server import RedisServer


def _config() -> Config:
    conf = resources.example_conf_dir()
    return Config(
        pbx=PbxConfig.model_validate(yaml.safe_load((conf / "pbx.yaml").read_text())),
        dispositions=Codebook.model_validate(yaml.safe_load((conf / "dispositions.yaml").read_text())),
        flows=MappingProxyType({}),
        files=(),
    )


def _summary(name: str, latencies: list[float], wall_s: float) -> str:
    ms = sorted(x * 1000 for x in latencies)
    p = statistics.quantiles(ms, n=1000)
    return (f"{name:<22} n={len(ms):>6}  p50 {statistics.median(ms):6.3f} ms  p99 {p[989]:6.3f} ms  "
            f"p99.9 {p[998]:6.3f} ms  max {ms[-1]:6.3f} ms  {len(ms) / wall_s:8.0f}/s")


Work = Callable[[int], Awaitable[object]]


async def _open_loop(work: Work, writes: int, rate: float) -> tuple[list[float], float]:
    latencies: list[float] = []

    async def one(n: int) -> None:
        start = time.perf_counter()
        await work(n)
        latencies.append(time.perf_counter() - start)

    began = time.perf_counter()
    tasks = []
    for n in range(writes):
        delay = began + n / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(one(n)))
    await asyncio.gather(*tasks)
    return latencies, time.perf_counter() - began


async def _timed(work: Work, writes: int, concurrency: int) -> tuple[list[float], float]:
    latencies: list[float] = []
    counter = iter(range(writes))

    async def worker() -> None:
        for n in counter:
            start = time.perf_counter()
            await work(n)
            latencies.append(time.perf_counter() - start)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, time.perf_counter() - began


async def main(args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="bench-dispositions-"))
    server = RedisServer(workdir / "redis")
    server.start()
    client = aioredis.from_url(server.url)
    records = RecordLog(client, workdir / "spool")
    config = _config()
    app = DispositionApp(config, records, None, Followups(config.dispositions, records))
    record = {
        "call_uuid": "", "agent": "alice", "group": "sales", "codes": ["20", "40"],
        "categories": {"outcome": "20", "intent": "40"}, "source": "agent", "flagged": False,
        "wrapup_s": 11.2, "captured_at": 0, "system_outcome": "answered", "offered_at": 1_795_000_000_000,
    }

    async def write_record(n: int) -> None:
        await records.append("dispositions", {**record, "call_uuid": f"r-{n}"}, doc_key=f"disposition:r-{n}",
                             ttl_s=30 * 86400)

    async def store_codes(n: int) -> None:
        link = WrapupLink(f"s-{n}", "alice", "sales", "+447700900123", 1_795_000_000_000)
        await app._finish(link, link.customer_uuid or "", ("40",), ("20",), wrapup_s=11.2, confirmed=True,
                          callback_at=None, ending="done", agent_leg=f"a-{n}")

    try:
        print(f"redis-server on port {server.port}; load average {os.getloadavg()[0]:.2f} "
              f"on {os.cpu_count()} cpu(s)")
        for name, work in (("record", write_record), ("store", store_codes)):
            await _timed(work, min(1000, args.writes), 1)  # warm-up (scripts loaded, connections open)
            await client.flushall()
            app._stored.clear()
            lat, wall = await _timed(work, args.writes, 1)
            print(_summary(f"{name} (sequential)", lat, wall))
            await client.flushall()
            app._stored.clear()
            lat, wall = await _open_loop(work, args.writes, args.rate)
            print(_summary(f"{name} ({args.rate:.0f}/s)", lat, wall))
            await client.flushall()
            app._stored.clear()
            lat, wall = await _timed(work, args.writes, args.concurrency)
            print(_summary(f"{name} (x{args.concurrency} max)", lat, wall))
        stats = await client.info("commandstats")
        evalsha = stats.get("cmdstat_evalsha", {})
        if evalsha:
            print(f"redis: EVALSHA {evalsha['usec_per_call']:.1f} us per call (server side)")
    finally:
        await app.close()
        await records.close()
        await client.aclose()
        server.stop()
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=20000)
    parser.add_argument("--rate", type=float, default=1000.0, help="open-loop writes per second")
    parser.add_argument("--concurrency", type=int, default=50, help="closed-loop writers")
    sys.exit(asyncio.run(main(parser.parse_args())))
