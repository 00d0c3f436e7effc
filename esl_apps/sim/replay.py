"""Replay a recorded conversation's client side against the emulator and compare what comes back.

Each ``>>> sent`` message of a trace section is sent again, on its own connection (outbound ones
through an application server the dialplan's ``socket`` points at, inbound ones to the emulator's
listener), after as many messages as the trace shows received before it, plus the recorded pause.
Channel uuids in the commands are translated from the trace's to the emulator's as they appear.
:func:`normalise` turns both sides into comparable (kind, name, key headers) tuples with uuids
replaced by their order of appearance, CHANNEL_PARK and log/data dropped, the linger notice set
aside (its position is a race in FreeSWITCH too).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from esl_apps.esl.protocol import (
    ApiResponse,
    AuthRequest,
    CommandReply,
    DisconnectNotice,
    EslParser,
    Event,
    LogData,
    Message,
)
from esl_apps.esl.tracefile import TraceSection

DATE_RE = re.compile(r"[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}")
EPOCH_RE = re.compile(r"\b1\d{9}\b")
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
KEY_HEADERS = (
    "Application", "Application-Data", "Application-Response", "Answer-State", "Hangup-Cause",
    "Channel-State",
    "Channel-Call-State", "DTMF-Digit", "Other-Leg-Destination-Number", "Other-Type", "Event-Subclass",
    "Caller-Destination-Number", "Call-Direction", "Record-File-Path", "Record-Completion-Cause",
    "VM-Action", "VM-User", "Job-Command",
)
OUTCOME_VARS = (
    "originate_disposition", "DIALSTATUS", "originate_failed_cause", "last_bridge_hangup_cause",
    "last_bridge_proto_specific_hangup_cause", "bridge_hangup_cause", "originate_causes", "read_result",
    "read_terminator_used", "ivr_choice", "ivr_choice_invalid", "agent_disposition", "last_bridge_role",
    "record_seconds", "voicemail_message_len", "transfer_history",
)
MAP_HEADERS = ("Unique-ID", "Bridge-A-Unique-ID", "Bridge-B-Unique-ID", "Other-Leg-Unique-ID",
               "variable_bridge_uuid", "variable_signal_bond", "Controlled-Session-UUID")


def _flexible(message: Message) -> bool:
    """Messages whose presence/position is a race in FreeSWITCH itself."""
    if isinstance(message, Event) and message.name == "CHANNEL_PARK":
        return True
    return isinstance(message, LogData)


@dataclass
class ConnectionPlan:
    conn: str
    outbound: bool
    steps: list[tuple[str, bytes, int, float, bool]]  # (send|close, data, wait_for, pause_s, after_events)
    expected: list[Message] = field(default_factory=list)
    pre_events: int = 0  # messages received before the first event (replies to the set-up commands)


def plan(section: TraceSection) -> list[ConnectionPlan]:
    plans: list[ConnectionPlan] = []
    for conn in section.connections:
        if not conn:
            continue
        opened = [e for e in section.entries if e.conn == conn and e.kind == "open"]
        outbound = bool(opened) and opened[0].text.startswith("outbound")
        parser = EslParser()
        steps: list[tuple[str, bytes, int, float, bool]] = []
        expected: list[Message] = []
        count = 0
        events = False
        pre_events = -1
        last_t = opened[0].t if opened else 0.0
        for entry in section.entries:
            if entry.conn != conn:
                continue
            if entry.kind == "received":
                for message in parser.feed(entry.data):
                    expected.append(message)
                    if not _flexible(message):
                        if isinstance(message, Event) and not events:
                            events = True
                            pre_events = count
                        count += 1
                        last_t = entry.t  # pauses count from what the replay can wait for
            elif entry.kind == "sent":
                steps.append(("send", entry.data, count, max(0.0, entry.t - last_t), events))
                last_t = entry.t
            elif entry.kind == "close" and entry.text.startswith("local"):
                steps.append(("close", b"", count, max(0.0, entry.t - last_t), events))
        plans.append(ConnectionPlan(conn, outbound, steps, expected, pre_events if events else count))
    return plans


class Replayer:
    """Plays one connection's client side; ``received`` collects what the emulator sent."""

    def __init__(self, plan_: ConnectionPlan, time_scale: float, uuid_map: dict[str, str]) -> None:
        self.plan = plan_
        self.time_scale = time_scale
        self.uuid_map = uuid_map
        self.received: list[Message] = []
        self._count = 0
        self._changed = asyncio.Event()
        self.ready = asyncio.Event()  # set-up commands sent and answered; events may come now
        self._setup_sent = False
        self._expected_iter = [m for m in plan_.expected if not _flexible(m)]

    def _check_ready(self) -> None:
        if self._setup_sent and self._count >= self.plan.pre_events:
            self.ready.set()

    def _translate(self, data: bytes) -> bytes:
        text = data.decode("utf-8", "replace")
        for trace_uuid, emu_uuid in self.uuid_map.items():
            text = text.replace(trace_uuid, emu_uuid)
        return text.encode("utf-8")

    def _learn(self, message: Message) -> None:
        index = self._count - 1
        if index >= len(self._expected_iter):
            return
        recorded = self._expected_iter[index]
        mine, theirs = _headers(message), _headers(recorded)
        if _kind(message) != _kind(recorded):
            return
        for name in MAP_HEADERS:
            a, b = theirs.get(name), mine.get(name)
            if a and b and UUID_RE.fullmatch(a) and a not in self.uuid_map:
                self.uuid_map[a] = b

    async def run(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, timeout: float) -> None:
        parser = EslParser()

        async def read_all() -> None:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                for message in parser.feed(data):
                    self.received.append(message)
                    if not _flexible(message):
                        self._count += 1
                        self._learn(message)
                    self._check_ready()
                    self._changed.set()
            self._changed.set()

        reading = asyncio.ensure_future(read_all())
        try:
            for action, data, wait_for, pause, after_events in self.plan.steps:
                if after_events and not self._setup_sent:
                    self._setup_sent = True
                    self._check_ready()
                while self._count < wait_for and not reading.done():
                    self._changed.clear()
                    await asyncio.wait_for(self._changed.wait(), timeout)
                if pause:
                    await asyncio.sleep(pause * self.time_scale)
                if action == "close":
                    writer.close()
                    break
                writer.write(self._translate(data))
                await writer.drain()
            self._setup_sent = True
            self._check_ready()
            await asyncio.wait_for(reading, timeout)
        finally:
            reading.cancel()
            writer.close()


def _headers(message: Message) -> dict[str, str]:
    if isinstance(message, Event | CommandReply | DisconnectNotice | LogData):
        return dict(message.headers)
    return {}


def _kind(message: Message) -> str:
    if isinstance(message, Event):
        return "event:" + message.name
    if isinstance(message, CommandReply):
        return "reply"
    if isinstance(message, ApiResponse):
        return "api"
    if isinstance(message, DisconnectNotice):
        return "notice"
    if isinstance(message, AuthRequest):
        return "auth"
    return type(message).__name__


def _port(name: str, message: Event) -> str:
    """The socket application's address is the test's free port, not FreeSWITCH's 8084."""
    value = message.headers[name]
    if name == "Application-Data":
        value = re.sub(r"(127\.0\.0\.1):\d+( async| full)", r"\1:<port>\2", value)
        if message.headers.get("Application") == "socket":
            value = re.sub(r"^(127\.0\.0\.1):\d+$", r"\1:<port>", value)
    return value


def normalise(messages: Sequence[Message], extra_vars: Sequence[str] = ()) -> tuple[list[tuple], list[str]]:
    """-> (comparable items in order, linger/disconnect notices seen)."""
    labels: dict[str, str] = {}

    def norm(text: str) -> str:
        def label(m: re.Match[str]) -> str:
            return labels.setdefault(m.group(0), f"<uuid{len(labels) + 1}>")

        text = DATE_RE.sub("<date>", text)
        return EPOCH_RE.sub("<epoch>", UUID_RE.sub(label, text))

    items: list[tuple] = []
    notices: list[str] = []
    for message in messages:
        if _flexible(message):
            continue
        if isinstance(message, DisconnectNotice):
            notices.append(message.disposition or "(none)")
            continue
        if isinstance(message, Event):
            keys = tuple((h, norm(_port(h, message))) for h in KEY_HEADERS if h in message.headers)
            wanted = (*OUTCOME_VARS, *extra_vars)
            outcome = tuple((v, norm(message.headers["variable_" + v])) for v in wanted
                            if "variable_" + v in message.headers and message.name != "CHANNEL_DATA")
            items.append(("event", message.name, keys, outcome))
        elif isinstance(message, CommandReply):
            if "Event-Name" in message.headers:  # the connect reply: channel data
                items.append(("connect", norm(message.reply_text), tuple(
                    (h, norm(message.headers.get(h, ""))) for h in
                    ("Caller-Destination-Number", "Call-Direction", "Answer-State", "Channel-State"))))
            else:
                items.append(("reply", norm(message.reply_text)))
        elif isinstance(message, ApiResponse):
            body = message.body
            if body.startswith("UP "):
                body = "UP ..."
            items.append(("api", norm(body)))
        else:
            items.append((_kind(message),))
    return items, notices


class SectionReplay:
    """Drives every connection of one trace section: ``start()`` gives the port to put in the
    dialplan's ``socket`` action, ``connect_inbound()`` opens the inbound clients, ``wait()`` ends."""

    def __init__(self, section: TraceSection, time_scale: float, timeout: float = 10.0) -> None:
        self.section = section
        self.time_scale = time_scale
        self.timeout = timeout
        self.plans = plan(section)
        self.uuid_map: dict[str, str] = {}
        self.replayers = {p.conn: Replayer(p, time_scale, self.uuid_map) for p in self.plans}
        self._outbound = [p.conn for p in self.plans if p.outbound]
        self._tasks: list[asyncio.Future] = []  # type: ignore[type-arg]
        self._server: asyncio.base_events.Server | None = None
        self._all_started = asyncio.Event()

    def _started(self, task: asyncio.Future) -> None:  # type: ignore[type-arg]
        self._tasks.append(task)
        if len(self._tasks) == len(self.plans):
            self._all_started.set()

    async def start(self) -> int:
        pending = list(self._outbound)

        async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            if not pending:
                writer.close()
                return
            conn = pending.pop(0)
            task = asyncio.ensure_future(self.replayers[conn].run(reader, writer, self.timeout))
            self._started(task)
            await asyncio.gather(task, return_exceptions=True)

        self._server = await asyncio.start_server(accept, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.uuid_map["127.0.0.1:8084"] = f"127.0.0.1:{port}"  # socket targets inside replayed commands
        return port

    async def connect_inbound(self, port: int) -> None:
        for p in self.plans:
            if not p.outbound:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                self._started(asyncio.ensure_future(self.replayers[p.conn].run(reader, writer, self.timeout)))

    async def inbound_ready(self) -> None:
        """Until every inbound client has sent what it sends before the call starts."""
        for p in self.plans:
            if not p.outbound:
                await asyncio.wait_for(self.replayers[p.conn].ready.wait(), self.timeout)

    async def wait(self) -> None:
        """Until every connection of the section has been opened and played to its end."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        try:
            if self.plans:
                await asyncio.wait_for(self._all_started.wait(), self.timeout)
            await asyncio.wait_for(asyncio.gather(*self._tasks), max(0.1, deadline - loop.time()))
        finally:
            if self._server is not None:
                self._server.close()

    def compare(self, conn: str, extra_vars: Sequence[str] = ()) -> tuple[tuple, tuple]:
        """-> ((emulator items, notices), (trace items, notices)) for one connection."""
        replayer = self.replayers[conn]
        return normalise(replayer.received, extra_vars), normalise(replayer.plan.expected, extra_vars)
