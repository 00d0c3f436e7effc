#!/usr/bin/env python3
"""One application process under FreeSWITCH-like load: esl-apps vs greenswitch vs genesis, side by side.

Each application (scripts/bench_peers/*_app.py) runs the same 6-step flow per call (answer, play,
collect, play, bridge to an agent, hangup) in its own process pinned to one core; the load generator
(scripts/bench_runtime_gen.py, FreeSWITCH's side of the outbound socket, replaying the recorded event
sequences) runs in another process pinned to the other core and measures everything on its side:
setup latency (connect() -> the app's `connect`), event->command latency (the EXECUTE_COMPLETE or reply
that unblocks a step -> the app's next sendmsg), the app's CPU seconds (/proc/<pid>/stat) and resident
memory (/proc/<pid>/status VmRSS at peak concurrency minus idle).

    python scripts/bench_runtime.py                  # 200 calls/s, 2,000 concurrent (10 s calls), 30 s
    python scripts/bench_runtime.py --quick          # 200 calls at 50/s, 2 s calls: < 30 s in all
    python scripts/bench_runtime.py --rate 100 --concurrency 500 --calls 2000 --apps esl-apps

A full run (not --quick) records its table in docs/benchmarks.md (--no-record to skip).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))  # tests.support.redis_server
from bench_runtime_report import (
    GOAL_SETUP_P50_MS,
    GOAL_STEP_P99_MS,
    engine_table,
    record,
    table,
)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
APPS = {
    "esl-apps": HERE / "bench_peers" / "eslapps_app.py",
    "greenswitch": HERE / "bench_peers" / "greenswitch_app.py",
    "genesis": HERE / "bench_peers" / "genesis_app.py",
}
ENGINE = HERE / "bench_peers" / "engine_app.py"
# Issue 4's call: the main line, the caller consents to recording (1) and picks sales (1).
ENGINE_CALL = ["--did", "+442071234567", "--caller", "+441632960001", "--digits", "1,1"]


def _pin(cpu: int | None, sched: str):  # type: ignore[no-untyped-def]
    """Child set-up: its own core, and a scheduling class that keeps other work on a shared machine
    from preempting it (the figures are about the application, not about its neighbours)."""

    def setup() -> None:
        if cpu is not None:
            os.sched_setaffinity(0, {cpu})
        if sched == "fifo":
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
        elif sched == "nice":
            os.nice(-10)

    return setup


def _cpu_times() -> tuple[int, int]:
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(fields), fields[3] + fields[4]  # total, idle + iowait


def machine_busy(seconds: float = 2.0) -> float:
    """Share of all cores busy over `seconds` (other work on the machine, before a run starts)."""
    total0, idle0 = _cpu_times()
    time.sleep(seconds)
    total1, idle1 = _cpu_times()
    return 1.0 - (idle1 - idle0) / max(1, total1 - total0)


def wait_quiet(limit_s: float, threshold: float = 0.25) -> float:
    """Wait (up to limit_s) until the machine is mostly idle; -> the busy share measured last."""
    deadline = time.monotonic() + limit_s
    busy = machine_busy(2.0 if limit_s > 0 else 0.5)
    while busy > threshold and time.monotonic() < deadline:
        busy = machine_busy(5.0)
    return busy


def run_engine(args: argparse.Namespace, cpus: tuple[int | None, int | None]) -> dict:
    """Issue 4: the example main menu on serve's stack, with its own redis-server whose command and
    network-read counters the generator reads before and after the load."""
    from tests.support.redis_server import RedisServer

    workdir = Path(tempfile.mkdtemp(prefix="bench-runtime-engine-"))
    redis = RedisServer(workdir / "redis")
    try:
        redis.start()
        assert redis.process is not None and redis.process.poll() is None, "redis-server did not start"
        app_args = ["--redis-url", redis.url, "--workdir", str(workdir / "serve")]
        gen_args = [*ENGINE_CALL, "--redis-port", str(redis.port)]
        result = run_one("engine", args, cpus, ENGINE, app_args, gen_args)
        log = workdir / "serve" / "serve.log"
        lines = log.read_text().splitlines() if log.exists() else []
        result["log_errors"] = sum(1 for line in lines if '"level":"error"' in line)
        return result
    finally:
        redis.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def run_one(
    name: str,
    args: argparse.Namespace,
    cpus: tuple[int | None, int | None],
    script: Path | None = None,
    app_args: list[str] | None = None,
    gen_args: list[str] | None = None,
) -> dict:
    """Start the app, drive it with the generator, stop it; -> the generator's figures."""
    gen_cpu, app_cpu = cpus
    busy_before = wait_quiet(args.wait_quiet)
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               BENCH_GC_PACER=str(args.gc_pacer))
    app = subprocess.Popen(
        [sys.executable, str(script or APPS[name]), "--max-calls", str(int(args.concurrency * 1.5) + 100),
         *(app_args or [])],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        preexec_fn=_pin(app_cpu, args.sched),
    )
    try:
        assert app.stdout is not None
        line = app.stdout.readline().split()
        if len(line) != 3 or line[0] != "READY":
            raise RuntimeError(f"{name}: did not start: {line!r}\n{app.stderr.read() if app.stderr else ''}")
        port, pid = int(line[1]), int(line[2])
        gen = subprocess.run(
            [sys.executable, str(HERE / "bench_runtime_gen.py"), "--port", str(port), "--app-pid", str(pid),
             "--calls", str(args.calls), "--rate", str(args.rate), "--call-s", str(args.call_s),
             "--warmup", str(args.warmup), *(gen_args or [])],
            capture_output=True, text=True, env=env, preexec_fn=_pin(gen_cpu, args.sched),
            timeout=args.calls / args.rate + args.call_s * 3 + 120,
        )
        if gen.returncode != 0:
            raise RuntimeError(f"{name}: load generator failed:\n{gen.stderr[-3000:]}")
        result = json.loads(gen.stdout)
        result["app"] = name
        result["busy_before"] = busy_before
        result["sched"] = args.sched
        result["gc_pacer"] = args.gc_pacer
        return result
    finally:
        app.send_signal(signal.SIGTERM)
        try:
            app.wait(10)
        except subprocess.TimeoutExpired:
            app.kill()
            app.wait()


def machine() -> str:
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return (f"{os.cpu_count()} cores ({cpu}), Linux {platform.release()}, "
            f"Python {platform.python_version()}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, help="calls per application (default: rate x duration)")
    ap.add_argument("--rate", type=float, help="new calls per second (default 200)")
    ap.add_argument("--concurrency", type=int,
                    help="calls up at once in steady state; sets the call length to concurrency/rate "
                         "(default 2000, i.e. 10 s calls)")
    ap.add_argument("--duration", type=float, help="seconds of arrivals (default 30)")
    ap.add_argument("--quick", action="store_true", help="200 calls at 50/s, 2 s calls (< 30 s in all)")
    ap.add_argument("--apps", default=",".join(APPS), help=f"comma list of {', '.join(APPS)}")
    eng = ap.add_mutually_exclusive_group()
    eng.add_argument("--engine", action="store_true",
                     help="also issue 4's main menu on the serve stack (default in full runs, not --quick)")
    eng.add_argument("--no-engine", action="store_true", help="skip the engine benchmark")
    ap.add_argument("--warmup", type=int, help="short unmeasured calls first (default 20; quick 10)")
    ap.add_argument("--no-pin", action="store_true", help="do not pin generator / app to cores 0 / 1")
    ap.add_argument("--sched", choices=("fifo", "nice", "normal"),
                    default="fifo" if os.geteuid() == 0 else "normal",
                    help="scheduling of app and generator: fifo = SCHED_FIFO priority 10 (default as root; "
                         "the kernel's RT throttling still leaves 5%% to others), nice = nice -10, normal")
    ap.add_argument("--wait-quiet", type=float, default=0.0, metavar="S",
                    help="before each application, wait up to S seconds for the machine to be < 25%% busy")
    ap.add_argument("--gc-pacer", type=int, default=0, metavar="N",
                    help="experiment: every application collects the young GC generation every N calls "
                         "(see docs/benchmarks.md); default 0, the interpreter's own policy")
    ap.add_argument("--json", type=Path, help="also write all figures to this file")
    rec = ap.add_mutually_exclusive_group()
    rec.add_argument("--record", action="store_true", help="record in docs/benchmarks.md (also --quick)")
    rec.add_argument("--no-record", action="store_true", help="do not touch docs/benchmarks.md")
    args = ap.parse_args(argv)
    if args.quick:
        defaults = {"rate": 50.0, "concurrency": 100, "calls": 200, "warmup": 10}
    else:
        defaults = {"rate": 200.0, "concurrency": 2000, "warmup": 20}
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.calls is None:
        args.calls = int(args.rate * (args.duration if args.duration is not None else 30.0))
    args.call_s = args.concurrency / args.rate
    args.apps = [a.strip() for a in args.apps.split(",") if a.strip()]
    args.engine = args.engine or not (args.quick or args.no_engine)
    unknown = [a for a in args.apps if a not in APPS]
    if unknown:
        ap.error(f"unknown app(s): {', '.join(unknown)}")
    if args.rate <= 0 or args.calls < 1 or args.concurrency < 1:
        ap.error("--rate, --calls and --concurrency must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cores = sorted(os.sched_getaffinity(0))
    cpus: tuple[int | None, int | None] = (None, None)
    if not args.no_pin and len(cores) >= 2:
        cpus = (cores[0], cores[1])
    print(f"load: {args.calls} calls at {args.rate:g}/s, {args.call_s:g} s each "
          f"(~{args.concurrency} concurrent); generator on cpu {cpus[0]}, app on cpu {cpus[1]}, "
          f"scheduling {args.sched}",
          file=sys.stderr)
    results = []
    for name in args.apps:
        started = time.monotonic()
        print(f"  {name} ...", end="", flush=True, file=sys.stderr)
        results.append(run_one(name, args, cpus))
        print(f" {time.monotonic() - started:.0f} s", file=sys.stderr)
    engine = None
    if args.engine:
        started = time.monotonic()
        print("  engine (issue 4, main menu on the serve stack) ...", end="", flush=True, file=sys.stderr)
        engine = run_engine(args, cpus)
        print(f" {time.monotonic() - started:.0f} s", file=sys.stderr)
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = table(results, args, machine(), when) if results else ""
    if engine is not None:
        text += ("\n" if text else "") + engine_table(engine, args, machine(), when)
    print(text)
    if args.json:
        args.json.write_text(json.dumps(
            {"when": when, "machine": machine(), "results": results, "engine": engine}, indent=1))
    if args.record or (not args.quick and not args.no_record):
        record(ROOT / "docs" / "benchmarks.md", text)
        print("recorded in docs/benchmarks.md", file=sys.stderr)
    ours = next((r for r in results if r["app"] == "esl-apps"), None)
    if ours is None:
        return 0
    ok = (ours["step"].get("p99", 1e9) < GOAL_STEP_P99_MS
          and ours["setup"].get("p50", 1e9) < GOAL_SETUP_P50_MS
          and ours["failed"] == ours["refused"] == ours["unfinished"] == 0)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
