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
import uuid as uuidlib
from array import array
from collections import deque
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_runtime_templates as tpl
from bench_runtime_proc import (
    percentiles,
    proc_cpu_s,
    proc_rss_kb,
    proc_runq_wait_s,
    redis_delta,
    redis_info,
)

from esl_apps.esl.protocol import (
    Command,
    CommandParser,
    RemoteProtocolError,
    api_response_bytes,
    command_reply_bytes,
    disconnect_notice_bytes,
    url_encode,
)

FRAME_S = 0.02  # FreeSWITCH's session thread picks a queued message up on its next 20 ms frame
BASE = {"play": 2.0, "collect": 2.0, "ring": 1.0, "talk": 3.0}  # + play again: 10 s per call
BASE_CALL_S = 2 * BASE["play"] + BASE["collect"] + BASE["ring"] + BASE["talk"]
OK = command_reply_bytes("+OK")
BYE = command_reply_bytes("+OK bye")
MEDIA_APPS = frozenset({"speak", "say", "gentones", "endless_playback"})  # take media time like playback


def fs_split(arg: str) -> list[str]:
    """Arguments as FreeSWITCH's switch_separate_string splits them: on blanks, 'single quotes' kept."""
    out: list[str] = []
    current: list[str] = []
    quoted = False
    for char in arg:
        if char == "'":
            quoted = not quoted
        elif char == " " and not quoted:
            if current:
                out.append("".join(current))
                current = []
        else:
            current.append(char)
    if current:
        out.append("".join(current))
    return out


class Stats:
    def __init__(self) -> None:
        self.setup = array("d")
        self.first_step = array("d")
        self.step = array("d")
        self.by_app: dict[str, array] = {}
        self.dialled = self.refused = self.failed = self.completed = self.connect_errors = 0
        self.unfinished = 0
        self.unexpected: dict[str, int] = {}


class Call(asyncio.Protocol):
    """One channel, from FreeSWITCH's side."""

    def __init__(self, gen: Generator, t_dial: float) -> None:
        self.gen = gen
        self.t_dial = t_dial
        self.uuid = str(uuidlib.uuid4())
        self.vals = tpl.values(self.uuid)
        self.parser = CommandParser()
        self.transport: asyncio.Transport | None = None
        self.unblock_t: float | None = None
        self.queue: deque[tuple[str, str, str]] = deque()
        self.running = False
        self.timers: list[asyncio.TimerHandle] = []
        self.steps = 0
        self.collects = 0
        self.connected = self.hung_up = self.parked = self.aborted = False

    # -- asyncio callbacks
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.gen.opened(self)

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        try:
            commands = self.parser.feed(data)
        except RemoteProtocolError:
            self.gen.unexpected("malformed command")
            self._close()
            return
        for cmd in commands:
            self.on_command(cmd, now)

    def connection_lost(self, exc: Exception | None) -> None:
        for timer in self.timers:
            timer.cancel()
        self.transport = None
        self.gen.closed(self)

    # -- sending
    def send(self, data: bytes, unblock: bool = False) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if unblock:
            self.unblock_t = time.perf_counter()
        transport.write(data)

    def later(self, delay: float, fn, *args) -> None:  # type: ignore[no-untyped-def]
        self.timers.append(self.gen.loop.call_later(delay, fn, *args))

    def emit(self, templates, vals, complete: bool = False, linger: bool = False) -> None:  # type: ignore[no-untyped-def]
        last = len(templates) - 1
        for i, template in enumerate(templates):
            self.send(template.render(vals), unblock=complete and i == last)
        if linger:
            self.send(disconnect_notice_bytes("linger", self.uuid, self.gen.templates.channel_name))
        elif complete:
            self.next_app()

    def _close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    # -- commands
    def on_command(self, cmd: Command, now: float) -> None:
        name = cmd.name
        if self.gen.show_commands:
            self.gen.show(self, cmd)
        if name == "sendmsg":
            self.on_sendmsg(cmd, now)
        elif name == "connect":
            self.gen.stats.setup.append(now - self.t_dial)
            self.connected = True
            self.send(self.gen.templates.connect_reply.render(self.vals), unblock=True)
        elif name == "exit":
            self.send(BYE)
            self.send(disconnect_notice_bytes("disconnect", self.uuid))
            self._close()
        elif name == "api":
            command = cmd.args.split(" ", 1)[0]
            body = {"uuid_record": "+OK Success\n", "uuid_exists": "true"}.get(command, "+OK\n")
            self.send(api_response_bytes(body), unblock=True)
        else:
            self.send(command_reply_bytes(self.reply_text(cmd)), unblock=True)

    def reply_text(self, cmd: Command) -> str:
        name, args = cmd.name, cmd.args
        if name == "myevents":
            return "+OK Events Enabled"
        if name == "linger":
            return f"+OK will linger {args} seconds" if args else "+OK will linger"
        if name == "event":
            return "+OK event listener enabled " + (args.split()[0].lower() if args else "plain")
        if name == "filter":
            header, _, value = args.partition(" ")
            return f"+OK filter added. [{header}]=[{value}]"
        if name == "getvar":
            return "12" if args.strip() == "ivr_choice" else "-ERR command not found"
        if name in ("resume", "nolinger", "noevents", "divert_events"):
            return "+OK"
        self.gen.unexpected(name)
        return "-ERR command not found"

    def on_sendmsg(self, cmd: Command, now: float) -> None:
        stats = self.gen.stats
        if self.unblock_t is not None:
            stats.step.append(now - self.unblock_t)
            if now - self.unblock_t > self.gen.window_max:
                self.gen.window_max = now - self.unblock_t
            key = (cmd.get("execute-app-name") or cmd.get("call-command") or "?").lower()
            stats.by_app.setdefault(key, array("d")).append(now - self.unblock_t)
            self.unblock_t = None
        if self.steps == 0:
            stats.first_step.append(now - self.t_dial)
        self.steps += 1
        self.send(OK, unblock=True)
        if not self.parked:  # the socket application parks the channel (CHANNEL_PARK, traces 01/03c)
            self.parked = True
            self.send(self.gen.templates.park.render(self.vals))
        if self.hung_up:
            return
        command = (cmd.get("call-command") or "").lower()
        if command == "execute":
            app = cmd.get("execute-app-name") or ""
            self.queue.append((app, cmd.get("execute-app-arg") or "", cmd.get("Event-UUID") or ""))
            if not self.running:
                self.next_app()
        elif command == "hangup":
            self.hung_up = True
            self.later(FRAME_S, self.emit, self.gen.templates.hangup_command, self.vals, False, True)
        else:
            self.gen.unexpected(f"sendmsg {command}")

    def next_app(self) -> None:
        if not self.queue or self.hung_up:
            self.running = False
            return
        self.running = True
        app, arg, app_uuid = self.queue.popleft()
        vals = tpl.values(self.uuid, app_uuid or str(uuidlib.uuid4()), arg, app)
        t = self.gen.templates
        d = self.gen.durations
        if app == "answer":
            self.later(FRAME_S, self.emit, t.answer, vals, True)
        elif app == "playback":
            self.later(FRAME_S, self.emit, t.playback[:1], vals)
            self.later(FRAME_S + d["play"], self.emit, t.playback[1:], vals, True)
        elif app == "play_and_get_digits":
            self.collect(arg, vals)
        elif app == "bridge":
            self.later(FRAME_S, self.emit, t.bridge[:1], vals)
            self.later(FRAME_S + d["ring"], self.emit, t.bridge[1:2], vals)
            self.later(FRAME_S + d["ring"] + d["talk"], self.emit, t.bridge[2:], vals, True)
        elif app == "hangup":
            self.hung_up = True
            self.later(FRAME_S, self.emit, t.hangup_app, vals, False, True)
        elif app == "set":
            self.later(FRAME_S, self.emit, t.set_, vals, True)
        elif app == "record_session":
            self.later(FRAME_S, self.emit, t.record_start, vals, True)
        elif app == "stop_record_session":
            self.later(FRAME_S, self.emit, t.record_stop, vals, True)
        elif app in MEDIA_APPS:
            self.later(FRAME_S, self.emit, t.generic[:1], vals)
            self.later(FRAME_S + d["play"], self.emit, t.generic[1:], vals, True)
        else:
            self.later(FRAME_S, self.emit, t.generic, vals, True)

    def collect(self, arg: str, vals: tuple[bytes, ...]) -> None:
        """play_and_get_digits: the caller keys the next scripted entry and the terminator, 0.4 s apart
        (trace 02), the last key at the end of the collect time; then EXECUTE_COMPLETE with <var>."""
        args = fs_split(arg)
        var = args[7] if len(args) > 7 else tpl.TRACE_VAR
        terminator = args[4][:1] if len(args) > 4 and args[4] not in ("", "none") else ""
        entries = self.gen.digits
        entry = entries[min(self.collects, len(entries) - 1)]
        self.collects += 1
        keys = entry + terminator
        d = self.gen.durations["collect"]
        end = FRAME_S + d
        gap = min(0.4, d / (len(keys) + 1))
        vals = (*vals[:4], tpl.values(self.uuid, var_name=var, digits=entry)[4], vals[5])
        self.later(FRAME_S, self.emit, self.gen.templates.collect[:1], vals)
        for i, key in enumerate(keys):
            key_vals = (*vals[:5], url_encode(key).encode())
            self.later(end - (len(keys) - 1 - i) * gap, self.emit, (self.gen.templates.dtmf,), key_vals)
        done = (*vals[:5], url_encode(entry).encode())
        self.later(end, self.emit, self.gen.templates.collect[1:], done, True)


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
