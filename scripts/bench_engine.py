"""Benchmark: the example main menu under emulator load (issue 4's performance goal).

Two processes, like production: this one runs the FreeSWITCH emulator and places calls at
``--rate`` per second for ``--duration`` seconds (caller consents, picks sales, an agent answers
after 2 s and talks ``--talk`` seconds, so ``rate x call length`` calls are up at once); the child
runs ``esl-apps serve``'s stack (OutboundServer -> FreeSwitchCall -> FlowEngine) with records in a
real Redis (a private redis-server is started) or in memory (``--memory``).

Reported:
* event -> command latency as FreeSWITCH sees it: for every command the application sends after a
  CHANNEL_EXECUTE_COMPLETE or api reply, the time since that message left the emulator (network,
  parsing, engine, back); and the application-side part (the awaited completion resolved -> next
  command issued). Goal: p99 < 5 ms.
* Redis round trips per call (trace + consent; goal <= 6), counted on the client.
* Peak concurrent calls and calls completed.

    python scripts/bench_engine.py                       # 200 calls/s for 10 s, 10 s talk
    python scripts/bench_engine.py --rate 50 --duration 5 --talk 2
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import multiprocessing as mp
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DID = "+442071234567"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _percentiles(samples: list[float]) -> dict[str, float]:
    if not samples:
        return {"n": 0}
    ordered = sorted(samples)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return {
        "n": len(ordered),
        "p50_ms": pick(0.50),
        "p90_ms": pick(0.90),
        "p99_ms": pick(0.99),
        "max_ms": ordered[-1] * 1000,
    }


# ------------------------------------------------------------------------------ application side
def app_process(port_q: Any, result_q: Any, stop_ev: Any, redis_url: str | None, workdir: str) -> None:
    profile_to = os.environ.get("BENCH_PROFILE")  # write the application's cProfile stats here
    if not profile_to:
        asyncio.run(_app(port_q, result_q, stop_ev, redis_url, Path(workdir)))
        return
    import cProfile

    cProfile.runctx(
        "asyncio.run(_app(port_q, result_q, stop_ev, redis_url, Path(workdir)))",
        globals(),
        locals(),
        profile_to,
    )


async def _app(port_q: Any, result_q: Any, stop_ev: Any, redis_url: str | None, workdir: Path) -> None:
    import logging

    from esl_apps.commands._simulation import scratch_config
    from esl_apps.config import load_config
    from esl_apps.engine import FlowEngine
    from esl_apps.esl.fscall import FreeSwitchCall
    from esl_apps.esl.outbound import OutboundServer
    from esl_apps.store.records import MemoryRecordLog, RecordLog

    logging.disable(logging.CRITICAL)
    config = scratch_config(load_config(), workdir)
    round_trips = 0
    client = None
    if redis_url:
        from esl_apps.store.connect import connect

        client = connect(redis_url)
        send = client.execute_command

        async def counting(*args: Any, **kwargs: Any) -> Any:
            nonlocal round_trips
            round_trips += 1
            return await send(*args, **kwargs)

        records: Any = RecordLog(client, workdir / "spool", "bench", auto_replay=False)
        await records.append("warmup", {"x": 1})
        client.execute_command = counting  # type: ignore[method-assign]
    else:
        records = MemoryRecordLog()
    clock_base = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # office open
    start = time.monotonic()
    engine = FlowEngine(config, records=records, clock=lambda: clock_base)
    gaps: list[float] = []
    calls = 0

    class TimedCall(FreeSwitchCall):
        _done_at: float | None = None

        async def _exec(self, app: str, arg: str | None = None) -> Any:
            now = time.perf_counter()
            if self._done_at is not None:
                gaps.append(now - self._done_at)
            try:
                return await super()._exec(app, arg)
            finally:
                self._done_at = time.perf_counter()

        async def _untimed(self, coro: Any) -> Any:
            # bridges, api calls and getvar are not "one event -> one command"; skip across them
            self._done_at = None
            try:
                return await coro
            finally:
                self._done_at = time.perf_counter()

        async def bridge(self, *args: Any, **kwargs: Any) -> Any:
            return await self._untimed(super().bridge(*args, **kwargs))

        async def _record_api(self, action: str, path: str) -> None:
            await self._untimed(super()._record_api(action, path))

        async def get_var(self, name: str) -> Any:
            return await self._untimed(super().get_var(name))

    async def handle(session: Any) -> None:
        nonlocal calls
        calls += 1
        await engine.run(TimedCall(session))

    server = OutboundServer(handle, "127.0.0.1", 0, max_calls=100_000)
    await server.start()
    port_q.put(server.port)
    while not stop_ev.is_set():
        await asyncio.sleep(0.2)
    await server.stop(5)
    if client is not None:
        await client.aclose()
    result_q.put(
        {
            "calls": calls,
            "redis_round_trips": round_trips,
            "app_gaps": _percentiles(gaps),
            "uptime_s": time.monotonic() - start,
            "cpu_s": time.process_time(),
        }
    )


# -------------------------------------------------------------------------------- emulator side
async def _load(args: argparse.Namespace, app_port: int) -> dict[str, Any]:
    from esl_apps.config import load_config
    from esl_apps.sim.emulator import Emulator
    from esl_apps.sim.scripts import AgentBehaviour, CallerScript

    pbx = load_config().pbx
    emu = Emulator(time_scale=1.0)
    await emu.start()
    emu.add_extension(f"^\\{DID}$", [("socket", f"127.0.0.1:{app_port} async full")])
    for agent in pbx.agents:
        for endpoint in pbx.dial_strings(agent):
            emu.add_endpoint(endpoint, AgentBehaviour(answer_after_s=2.0, talk_s=args.talk))
    script = CallerScript(digits=("1", "1"))  # consent (opt_out: any key but 9 = consent), then sales
    placed: list[Any] = []
    peak = 0
    begin = time.monotonic()
    total = int(args.rate * args.duration)
    for n in range(total):
        due = begin + n / args.rate
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        placed.append(await emu.place_call(DID, caller_number=f"+4416329{n % 100000:05d}", script=script))
        if n % 50 == 0:
            peak = max(peak, sum(1 for c in placed if not c.done))
    placing_s = time.monotonic() - begin
    while any(not c.done for c in placed):
        peak = max(peak, sum(1 for c in placed if not c.done))
        await asyncio.sleep(0.5)
        if time.monotonic() - begin > args.duration + args.talk + 120:
            break
    gaps: list[float] = []
    for call in placed:
        record = call.record
        by_conn: dict[int, list[Any]] = {}
        for msg in record.wire:
            by_conn.setdefault(msg.conn, []).append(msg)
        for cmd in record.commands:
            wire = by_conn.get(cmd.conn, [])
            times = [m.t for m in wire]
            i = bisect.bisect_right(times, cmd.t) - 1
            if i >= 0 and (wire[i].name == "CHANNEL_EXECUTE_COMPLETE" or wire[i].kind == "api"):
                gaps.append(cmd.t - wire[i].t)
                if args.show_slow and cmd.t - wire[i].t > args.show_slow / 1000:
                    app = wire[i].headers.get("Application", wire[i].name)
                    print(f"slow: {1000 * (cmd.t - wire[i].t):.1f} ms after {app} -> {str(cmd.command)[:80]}")
    await emu.stop()
    return {
        "cpu_s": time.process_time(),
        "wall_s": time.monotonic() - begin,
        "placed": len(placed),
        "placing_s": placing_s,
        "achieved_rate": len(placed) / placing_s,
        "peak_concurrent": peak,
        "completed": sum(1 for c in placed if c.done),
        "event_to_command": _percentiles(gaps),
    }


def _start_redis(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed; use --memory")
    port = _free_port()
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            break
        except OSError:
            time.sleep(0.05)
    return proc, f"redis://127.0.0.1:{port}/0"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=200.0, help="new calls per second (default 200)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of placing calls (default 10)")
    parser.add_argument("--talk", type=float, default=10.0, help="agent talk time in seconds (default 10)")
    parser.add_argument("--memory", action="store_true", help="records in memory instead of a local Redis")
    parser.add_argument("--show-slow", type=float, default=0, help="print commands slower than N ms")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-engine-"))
    redis_proc, redis_url = (None, None) if args.memory else _start_redis(workdir)
    ctx = mp.get_context("spawn")
    port_q, result_q, stop_ev = ctx.Queue(), ctx.Queue(), ctx.Event()
    app = ctx.Process(target=app_process, args=(port_q, result_q, stop_ev, redis_url, str(workdir)))
    app.start()
    try:
        app_port = port_q.get(timeout=30)
        emulator = asyncio.run(_load(args, app_port))
        stop_ev.set()
        application = result_q.get(timeout=60)
    finally:
        stop_ev.set()
        app.join(30)
        if redis_proc is not None:
            redis_proc.terminate()
            redis_proc.wait()
    calls = max(1, application["calls"])
    e2c, appgap = emulator["event_to_command"], application["app_gaps"]
    print(f"esl-apps engine benchmark  (cpus: {os.cpu_count()}, python {sys.version.split()[0]})")
    print(
        f"  calls placed          {emulator['placed']} at {emulator['achieved_rate']:.0f}/s "
        f"(asked {args.rate:.0f}/s), completed {emulator['completed']}, "
        f"handled by the app {application['calls']}"
    )
    print(f"  peak concurrent calls {emulator['peak_concurrent']}")
    print(
        f"  cpu                   app {application['cpu_s']:.1f} s of {application['uptime_s']:.1f} s, "
        f"emulator {emulator['cpu_s']:.1f} s of {emulator['wall_s']:.1f} s"
    )
    if e2c.get("n"):
        print(
            f"  event->command        p50 {e2c['p50_ms']:.2f} ms  p90 {e2c['p90_ms']:.2f} ms  "
            f"p99 {e2c['p99_ms']:.2f} ms  max {e2c['max_ms']:.1f} ms  ({e2c['n']} commands, wire to wire)"
        )
    if appgap.get("n"):
        print(
            f"  app-side part         p50 {appgap['p50_ms']:.2f} ms  p99 {appgap['p99_ms']:.2f} ms  "
            f"max {appgap['max_ms']:.1f} ms"
        )
    if redis_url:
        print(
            f"  redis round trips     {application['redis_round_trips'] / calls:.2f} per call "
            f"(trace + consent; goal <= 6)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
