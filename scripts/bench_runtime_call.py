"""FreeSWITCH's side of one outbound-socket call, for the runtime load generator (bench_runtime_gen.py).

A Call answers the application's commands with the recorded FreeSWITCH replies and event sequences
(bench_runtime_templates.py), queues executes like FreeSWITCH's session thread (one application at a
time, picked up on the next 20 ms frame), spends the media time of each application, and timestamps what
the generator measures: setup (connect() -> `connect`) and event->command (the message that lets the
application go on -> its next sendmsg).
"""

from __future__ import annotations

import asyncio
import time
import uuid as uuidlib
from array import array
from collections import deque
from typing import TYPE_CHECKING

import bench_runtime_templates as tpl

from esl_apps.esl.protocol import (
    Command,
    CommandParser,
    RemoteProtocolError,
    api_response_bytes,
    command_reply_bytes,
    disconnect_notice_bytes,
    url_encode,
)

if TYPE_CHECKING:
    from bench_runtime_gen import Generator

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
