#!/usr/bin/env python3
"""Load generator for scripts/bench_runtime.py: FreeSWITCH's side of `socket host:port async full`.

One process, meant to run pinned to its own core while the application under test runs on the other. It
opens one TCP connection per call at a fixed rate, answers every command with what FreeSWITCH 1.11 sends
(messages from the recorded traces, see bench_runtime_templates.py): the connect reply (CHANNEL_DATA), the
setup replies, `+OK` to each sendmsg, then per application the recorded event sequence with media time in
between (CHANNEL_EXECUTE ... CHANNEL_EXECUTE_COMPLETE with the app's Application-UUID, DTMF 1 2 # during
play_and_get_digits, CHANNEL_BRIDGE / UNBRIDGE around the agent's talk time, the hangup sequence down to
CHANNEL_HANGUP_COMPLETE and the linger notice, `+OK bye` and the goodbye notice on `exit`). Executes queue
as in FreeSWITCH: an application starts when the previous one completed.

Measured here, on one monotonic clock (perf_counter) on the same machine:
* setup: from just before connect() to the arrival of the application's `connect` command;
* first step: from connect() to the first sendmsg (setup round trips included);
* event->command: from the write of the message that lets the application go on (the EXECUTE_COMPLETE,
  or a command reply) to the arrival of its next sendmsg;
* the application's CPU time (/proc/<pid>/stat utime+stime) and resident memory (/proc/<pid>/status
  VmRSS), sampled with the number of calls in progress.
Prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_runtime_templates as tpl
from bench_runtime_call import BASE, BASE_CALL_S, Call, Stats
from bench_runtime_proc import (
    percentiles,
    proc_cpu_s,
    proc_rss_kb,
    proc_runq_wait_s,
    redis_delta,
    redis_info,
)

from esl_apps.esl.protocol import Command


class Generator:
    def __init__(self, host: str, port: int, app_pid: int, *, did: str | None = None,
                 caller: str | None = None, digits: tuple[str, ...] = ("12",)) -> None:
        self.host, self.port, self.app_pid = host, port, app_pid
        self.loop = asyncio.get_running_loop()
        self.templates = tpl.load(did=did, caller=caller)
        self.digits = digits  # what the caller keys at each successive play_and_get_digits
        self.show_commands = 0
        self.shown: dict[Call, int] = {}
        self.durations = dict(BASE)
        self.stats = Stats()
        self.active = 0
        self.outstanding = 0
        self.idle = asyncio.Event()
        self.calls: set[Call] = set()
        self.samples: list[tuple[float, int, int, float, float]] = []
        self.window_max = 0.0  # worst event->command latency since the last sample

    def show(self, call: Call, cmd: Command) -> None:
        """--show-commands: what the application sent on the first calls (to check a flow's path)."""
        index = self.shown.setdefault(call, len(self.shown))
        if index < self.show_commands:
            detail = " ".join(f"{k}={v[:60]}" for k, v in cmd.headers.items() if k.startswith("execute-app"))
            print(f"call {index}: {cmd.line[:100]} {detail}", file=sys.stderr)

    def opened(self, call: Call) -> None:
        self.active += 1
        self.calls.add(call)

    def closed(self, call: Call) -> None:
        self.active -= 1
        self.calls.discard(call)
        s = self.stats
        if call.aborted:
            pass
        elif not call.connected:
            s.refused += 1
        elif call.hung_up:
            s.completed += 1
        else:
            s.failed += 1
        self._done()

    def _done(self) -> None:
        self.outstanding -= 1
        if self.outstanding == 0:
            self.idle.set()

    def unexpected(self, what: str) -> None:
        self.stats.unexpected[what] = self.stats.unexpected.get(what, 0) + 1

    async def dial(self) -> None:
        t = time.perf_counter()
        try:
            await self.loop.create_connection(lambda: Call(self, t), self.host, self.port)
        except OSError:
            self.stats.connect_errors += 1
            self._done()

    async def run(self, calls: int, rate: float, call_s: float, drain_s: float) -> None:
        """Start `calls` calls, `rate` per second, each lasting about `call_s` seconds; wait up to
        `drain_s` after the last one started for all to end."""
        scale = call_s / BASE_CALL_S
        self.durations = {k: v * scale for k, v in BASE.items()}
        self.stats = Stats()
        self.idle.clear()
        start = self.loop.time()
        tasks = set()
        for i in range(calls):
            delay = start + i / rate - self.loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            self.outstanding += 1
            self.stats.dialled += 1
            task = self.loop.create_task(self.dial())
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        try:
            await asyncio.wait_for(self.idle.wait(), drain_s)
        except TimeoutError:
            # An overloaded application: count what is still going on and hang those calls up.
            self.stats.unfinished = self.outstanding
            for call in list(self.calls):
                call.aborted = True  # counted as unfinished, not as failed
                call._close()
            await asyncio.sleep(1.0)

    def sample(self, t0: float) -> None:
        try:
            self.samples.append((round(time.perf_counter() - t0, 2), self.active,
                                 proc_rss_kb(self.app_pid), proc_cpu_s(self.app_pid),
                                 round(self.window_max * 1000, 1)))
            self.window_max = 0.0
        except OSError:
            return
        self.loop.call_later(0.5, self.sample, t0)


async def main() -> None:
    ap = argparse.ArgumentParser(description="FreeSWITCH-side load generator for bench_runtime.py")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--app-pid", type=int, required=True)
    ap.add_argument("--calls", type=int, required=True)
    ap.add_argument("--rate", type=float, required=True)
    ap.add_argument("--call-s", type=float, required=True, help="length of one call (media time)")
    ap.add_argument("--warmup", type=int, default=20, help="short calls first, not measured")
    ap.add_argument("--did", help="dialled number in the channel data (default: the trace's 7100)")
    ap.add_argument("--caller", help="caller's number (default: the trace's 5551000)")
    ap.add_argument("--digits", default="12",
                    help="comma list: what the caller keys at each collect, then the terminator (default 12)")
    ap.add_argument("--redis-port", type=int, help="count this redis-server's commands during the load")
    ap.add_argument("--show-commands", type=int, default=0, metavar="N",
                    help="print the commands of the first N measured calls on stderr")
    ap.add_argument("--drain-s", type=float, help="wait this long for the last calls (default 3 x call + 30)")
    args = ap.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    digits = tuple(d for d in args.digits.split(",") if d) or ("12",)
    gen = Generator(args.host, args.port, args.app_pid, did=args.did, caller=args.caller, digits=digits)
    if args.warmup:
        await gen.run(args.warmup, max(10.0, args.warmup / 2), 0.5, 30.0)
        await asyncio.sleep(0.5)
    rss_idle = proc_rss_kb(args.app_pid)
    redis_before = redis_info(args.redis_port) if args.redis_port else None
    cpu0, gen_cpu0, t0 = proc_cpu_s(args.app_pid), proc_cpu_s("self"), time.perf_counter()
    wait0, gen_wait0 = proc_runq_wait_s(args.app_pid), proc_runq_wait_s("self")
    gen.samples = []
    gen.show_commands = args.show_commands
    gen.sample(t0)
    # The generator's own garbage-collector pauses would delay reading the app's commands and be
    # charged to the app; its objects are freed by reference counting (Call drops its transport).
    gc.collect()
    gc.freeze()
    gc.disable()
    drain = args.drain_s if args.drain_s is not None else 3 * args.call_s + 30
    await gen.run(args.calls, args.rate, args.call_s, drain)
    wall = time.perf_counter() - t0
    redis = redis_delta(redis_before, redis_info(args.redis_port)) if redis_before else None
    gen_rss_kb = proc_rss_kb("self")
    gc.enable()
    cpu = proc_cpu_s(args.app_pid) - cpu0
    gen_cpu = proc_cpu_s("self") - gen_cpu0
    app_wait = proc_runq_wait_s(args.app_pid) - wait0
    gen_wait = proc_runq_wait_s("self") - gen_wait0
    peak = max(gen.samples or [(0.0, 0, 0, 0.0, 0.0)], key=lambda s: (s[1], s[0]))
    s = gen.stats
    json.dump({
        "calls": args.calls, "rate": args.rate, "call_s": args.call_s,
        "dialled": s.dialled, "completed": s.completed, "failed": s.failed, "refused": s.refused,
        "connect_errors": s.connect_errors, "unfinished": s.unfinished, "unexpected": s.unexpected,
        "setup": percentiles(s.setup), "first_step": percentiles(s.first_step),
        "step": percentiles(s.step), "by_app": {k: percentiles(v) for k, v in sorted(s.by_app.items())},
        "peak_active": peak[1], "rss_idle_kb": rss_idle, "rss_at_peak_kb": peak[2],
        "rss_max_kb": max((x[2] for x in gen.samples), default=0),
        "app_cpu_s": round(cpu, 3), "wall_s": round(wall, 2), "gen_cpu_s": round(gen_cpu, 3),
        "gen_rss_kb": gen_rss_kb, "gen_garbage": gc.collect(),
        "app_runq_wait_s": round(app_wait, 3), "gen_runq_wait_s": round(gen_wait, 3),
        "redis": redis, "samples": gen.samples,
    }, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    asyncio.run(main())
