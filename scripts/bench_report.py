"""Benchmark: `esl-apps report` over 1,000,000 stored call records (goal: under 10 s).

Starts its own redis-server on a free loopback port, fills the interactions stream with N records
in the layout RecordLog writes (plus one disposition per answered call), then times reading the
streams and computing the report, the same code path `esl-apps report` runs.

    python scripts/bench_report.py [--records 1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from esl_apps.reports.kpi import ReportOptions
from esl_apps.reports.parallel import report_from_redis
from esl_apps.store.connect import connect
from tests.support.redis_server import RedisServer


async def fill(client, prefix: str, count: int, t0: int) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(7)
    groups, agents = ["sales", "support", "billing"], [f"agent{i}" for i in range(40)]
    batch = client.pipeline(transaction=False)
    for i in range(count):
        offered = t0 + i * 50
        answered = rng.random() < 0.85
        rec = {
            "call_uuid": uuid.UUID(int=i).hex,
            "group": rng.choice(groups),
            "agent": rng.choice(agents) if answered else None,
            "offered_at": offered,
            "answered_at": offered + rng.randint(1, 60) * 1000 if answered else None,
            "ended_at": offered + rng.randint(30, 600) * 1000,
            "outcome": "answered" if answered else rng.choice(["abandoned", "voicemail", "callback"]),
            "talk_s": rng.uniform(30, 600) if answered else 0,
        }
        fields = {"rid": uuid.uuid4().hex, "ts": str(offered), "data": json.dumps(rec, separators=(",", ":"))}
        batch.xadd(f"{prefix}:stream:interactions", fields)
        if answered:
            disp = {
                "call_uuid": rec["call_uuid"],
                "agent": rec["agent"],
                "categories": {"outcome": "21"},
                "wrapup_s": 12.0,
                "captured_at": offered,
            }
            batch.xadd(
                f"{prefix}:stream:dispositions",
                {"rid": uuid.uuid4().hex, "ts": str(offered), "data": json.dumps(disp)},
            )
        if i % 5000 == 4999:
            await batch.execute()
    await batch.execute()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(Path(tmp))
        server.start()
        try:
            client = connect(server.url, socket_timeout=60)
            t0 = int(time.time() * 1000) - args.records * 50
            started = time.perf_counter()
            await fill(client, "esl", args.records, t0)
            print(f"filled {args.records:,} interactions in {time.perf_counter() - started:.1f}s")
            started = time.perf_counter()
            report = report_from_redis(server.url, None, "esl", ReportOptions(since_ms=t0))
            done = time.perf_counter()
            print(
                f"report over {report.total.offered:,} interactions and "
                f"{sum(sum(c.values()) for c in report.dispositions.values()):,} disposition codes: "
                f"{done - started:.2f}s (goal < 10 s; 2 worker processes); "
                f"answer rate {report.total.answer_rate:.3f}, AHT {report.total.aht_s:.1f}s"
            )
            await client.aclose()
        finally:
            server.stop()


if __name__ == "__main__":
    asyncio.run(main())
