"""Fake FreeSWITCH ends for transport tests, over real TCP.

TraceReplay replays ONE connection of a recorded section (tests/fixtures/esl-traces): for every `sent`
entry it waits for the application's next command and checks it is the recorded one (same command line,
same headers, same body), then writes the recorded `received` messages up to the next `sent` entry, byte
for byte. Differences that are legitimate are explicit:

* Event-UUID / Job-UUID values are the application's own: the recorded value is mapped to the one the
  application sent and rewritten in every later message (both are 36-character UUIDs, so Content-Length
  stays right). A recorded sendmsg without Event-UUID (trace 01's answer) is mapped through the
  Application-UUID of the CHANNEL_EXECUTE that follows it.
* `extras`: commands our application sends and the recorded one did not (`resume`, `set
  continue_on_fail=true`, `set RECORD_STEREO=...`). They are answered `+OK`; a sendmsg execute also gets a
  synthetic CHANNEL_EXECUTE + CHANNEL_EXECUTE_COMPLETE carrying its Event-UUID. Anything else that does
  not match is recorded in `errors` and the replay stops.
* `omit`: recorded commands our application does not send (e.g. trace 07's `api status` before auth).
  The reply that answered it is dropped; events are still delivered.

AutoSwitch is a scripted stand-in for the simpler cases (capacity, shutdown, failures): it sends a
recorded connect reply, answers every command `+OK` (api: `+OK\\n`, execute: EXECUTE + COMPLETE events)
and records what it received.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from esl_apps.esl import protocol as p
from esl_apps.esl.protocol import Command, CommandParser, CommandReply, EslParser, Event
from esl_apps.esl.tracefile import TraceEntry, TraceSection

_IGNORED_HEADERS = frozenset({"event-uuid", "job-uuid"})


@dataclass(frozen=True)
class Extra:
    description: str
    matches: Callable[[Command], bool]


def allow_command(name: str, args: str = "") -> Extra:
    return Extra(f"{name} {args}".strip(), lambda c: c.name == name and c.args == args)


def allow_execute(app: str, arg: str | None = None) -> Extra:
    def matches(c: Command) -> bool:
        return (
            c.name == "sendmsg"
            and c.get("call-command") == "execute"
            and c.get("execute-app-name") == app
            and (arg is None or c.get("execute-app-arg") == arg)
        )

    return Extra(f"execute {app} {arg or ''}".strip(), matches)


ALLOW_RESUME = allow_command("resume")
ALLOW_CONTINUE_ON_FAIL = allow_execute("set", "continue_on_fail=true")


def parse_command(data: bytes) -> Command:
    commands = CommandParser().feed(data)
    assert len(commands) == 1, f"expected one command in {data!r}"
    return commands[0]


def parse_message(data: bytes):  # -> Message
    messages = EslParser().feed(data)
    return messages[0] if messages else None


def same_command(actual: Command, recorded: Command) -> bool:
    def headers(c: Command) -> dict[str, str]:
        return {k.lower(): v for k, v in c.headers.items() if k.lower() not in _IGNORED_HEADERS}

    return (
        actual.name == recorded.name
        and actual.args == recorded.args
        and headers(actual) == headers(recorded)
        and actual.body == recorded.body
    )


def is_reply(data: bytes) -> bool:
    return isinstance(parse_message(data), CommandReply | p.ApiResponse)


def synthetic_execute(channel_uuid: str, command: Command) -> bytes:
    base = [
        ("Event-Name", "CHANNEL_EXECUTE"),
        ("Unique-ID", channel_uuid),
        ("Application", command.get("execute-app-name") or ""),
        ("Application-Data", command.get("execute-app-arg") or ""),
        ("Application-UUID", command.get("Event-UUID") or ""),
    ]
    complete = [("Event-Name", "CHANNEL_EXECUTE_COMPLETE"), *base[1:], ("Application-Response", "_none_")]
    return p.event_plain_bytes(base) + p.event_plain_bytes(complete)


class _Commands:
    """Commands read from a stream, one at a time, with a timeout."""

    def __init__(self, reader: asyncio.StreamReader, timeout: float) -> None:
        self._reader = reader
        self._parser = CommandParser()
        self._queue: deque[Command] = deque()
        self._timeout = timeout
        self.eof = False

    async def next(self) -> Command | None:
        while not self._queue:
            if self.eof:
                return None
            data = await asyncio.wait_for(self._reader.read(65536), self._timeout)
            if not data:
                self.eof = True
                return None
            self._queue.extend(self._parser.feed(data))
        return self._queue.popleft()


class TraceReplay:
    def __init__(
        self,
        section: TraceSection,
        conn: str = "c1",
        *,
        extras: Iterable[Extra] = (),
        omit: Callable[[Command], bool] = lambda c: False,
        timeout: float = 5.0,
    ) -> None:
        self.section = section
        kinds = ("sent", "received", "close")
        self.entries = [e for e in section.entries if e.conn == conn and e.kind in kinds]
        self.extras = tuple(extras)
        self.omit = omit
        self.timeout = timeout
        self.errors: list[str] = []
        self.commands: list[Command] = []
        self.extras_answered: list[str] = []
        self.mapping: dict[str, str] = {}
        self.channel_uuid = self._recorded_channel_uuid()

    def _recorded_channel_uuid(self) -> str:
        for entry in self.entries:
            if entry.kind == "received":
                msg = parse_message(entry.data)
                if isinstance(msg, CommandReply) and msg.headers.get("Unique-ID"):
                    return msg.headers["Unique-ID"]
        return "00000000-0000-0000-0000-000000000000"

    # ------------------------------------------------------------------ entry points

    async def drive_outbound(self, host: str, port: int) -> None:
        """Connect to an outbound server as FreeSWITCH's `socket` application would, and replay."""
        reader, writer = await asyncio.open_connection(host, port)
        await self._run(reader, writer)

    async def serve_inbound(self) -> tuple[int, asyncio.Task[None]]:
        """Listen on a free port for ONE inbound client; returns (port, task that ends with the replay)."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                await self._run(reader, writer)
            finally:
                if not done.done():
                    done.set_result(None)

        server = await asyncio.start_server(on_client, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]

        async def wait() -> None:
            try:
                await done
            finally:
                server.close()
                await server.wait_closed()

        return port, asyncio.get_running_loop().create_task(wait())

    # ------------------------------------------------------------------ the replay

    def _rewrite(self, data: bytes) -> bytes:
        for old, new in self.mapping.items():
            data = data.replace(old.encode(), new.encode())
        return data

    def _map(self, recorded: str | None, actual: str | None) -> None:
        if recorded and actual and recorded != actual:
            assert len(recorded) == len(actual), "UUID rewriting must keep Content-Length valid"
            self.mapping[recorded] = actual

    def _learn_uuids(self, index: int, actual: Command, recorded: Command) -> None:
        if recorded.name == "sendmsg" and recorded.get("call-command") == "execute":
            rec_uuid = recorded.get("Event-UUID") or self._next_application_uuid(
                index, recorded.get("execute-app-name") or ""
            )
            self._map(rec_uuid, actual.get("Event-UUID"))
        elif recorded.name == "bgapi":
            rec_job = recorded.get("Job-UUID") or self._next_reply_header(index, "Job-UUID")
            self._map(rec_job, actual.get("Job-UUID"))

    def _next_application_uuid(self, index: int, app: str) -> str | None:
        for entry in self.entries[index + 1 :]:
            if entry.kind != "received":
                continue
            msg = parse_message(entry.data)
            if isinstance(msg, Event) and msg.name == "CHANNEL_EXECUTE" and msg.get("Application") == app:
                return msg.get("Application-UUID")
        return None

    def _next_reply_header(self, index: int, name: str) -> str | None:
        for entry in self.entries[index + 1 :]:
            if entry.kind == "received":
                msg = parse_message(entry.data)
                if isinstance(msg, CommandReply):
                    return msg.headers.get(name)
        return None

    def _answer_extra(self, writer: asyncio.StreamWriter, command: Command) -> bool:
        for extra in self.extras:
            if extra.matches(command):
                self.extras_answered.append(extra.description)
                data = p.command_reply_bytes("+OK")
                if command.name == "sendmsg" and command.get("call-command") == "execute":
                    data += synthetic_execute(self.channel_uuid, command)
                writer.write(data)
                return True
        return False

    async def _expect(self, commands: _Commands, writer: asyncio.StreamWriter, index: int,
                      recorded: Command) -> bool:
        while True:
            try:
                actual = await commands.next()
            except TimeoutError:
                self.errors.append(f"timeout waiting for {recorded.line!r} (entry {index})")
                return False
            if actual is None:
                self.errors.append(f"application closed its socket; FreeSWITCH expected {recorded.line!r}")
                return False
            self.commands.append(actual)
            if same_command(actual, recorded):
                self._learn_uuids(index, actual, recorded)
                return True
            if self._answer_extra(writer, actual):
                continue
            self.errors.append(
                f"entry {index}: expected {recorded.line!r} {dict(recorded.headers)} "
                f"but the application sent {actual.line!r} {dict(actual.headers)}"
            )
            return False

    async def _run(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        commands = _Commands(reader, self.timeout)
        drop_reply = False
        try:
            for index, entry in enumerate(self.entries):
                if entry.kind == "sent":
                    recorded = parse_command(entry.data)
                    if self.omit(recorded):
                        drop_reply = True
                        continue
                    if not await self._expect(commands, writer, index, recorded):
                        return
                elif entry.kind == "received":
                    if drop_reply and is_reply(entry.data):
                        drop_reply = False
                        continue
                    writer.write(self._rewrite(entry.data))
                    await writer.drain()
                elif entry.kind == "close" and not entry.text.startswith("local"):
                    return  # FreeSWITCH closed the socket here
            # The recording ended without a close by FreeSWITCH: the application must close.
            with contextlib.suppress(TimeoutError):
                while (extra := await commands.next()) is not None:
                    self.commands.append(extra)
                    if not self._answer_extra(writer, extra):
                        self.errors.append(f"unexpected command after the recorded end: {extra.line!r}")
                        return
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


class _CountWaiters:
    """`await until(n)`: resumes once `count()` reaches n (no polling)."""

    def __init__(self) -> None:
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []

    def count(self) -> int:
        raise NotImplementedError

    def _notify(self) -> None:
        for n, fut in self._waiters:
            if self.count() >= n and not fut.done():
                fut.set_result(None)

    async def until(self, n: int, timeout: float = 2.0) -> None:
        if self.count() >= n:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((n, fut))
        await asyncio.wait_for(fut, timeout)


class AutoSwitch(_CountWaiters):
    """A minimal FreeSWITCH for one outbound call: it answers whatever the application sends."""

    def __init__(self, connect_reply: bytes, *, api_body: str = "+OK\n") -> None:
        super().__init__()
        self.connect_reply = connect_reply
        self.api_body = api_body
        self.commands: list[Command] = []
        self.closed = asyncio.get_running_loop().create_future()
        self.first_bytes: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None
        uuid = parse_message(connect_reply).headers.get("Unique-ID")  # type: ignore[union-attr]
        self.uuid = uuid or ""

    async def connect(self, host: str, port: int) -> None:
        reader, writer = await asyncio.open_connection(host, port)
        self._writer = writer
        self._task = asyncio.get_running_loop().create_task(self._serve(reader, writer))

    def count(self) -> int:
        return len(self.commands)

    def send(self, data: bytes) -> None:
        assert self._writer is not None
        self._writer.write(data)

    def names(self) -> list[str]:
        return [c.line if c.name != "sendmsg" else f"sendmsg {c.get('call-command')}" for c in self.commands]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        parser = CommandParser()
        try:
            while True:
                data = await reader.read(65536)
                if not self.first_bytes.done():
                    self.first_bytes.set_result(data)
                if not data:
                    break
                for command in parser.feed(data):
                    self.commands.append(command)
                    self._notify()
                    writer.write(self._answer(command))
                    if command.name == "exit":
                        writer.close()
                        return
        except ConnectionError:
            pass
        finally:
            if not self.closed.done():
                self.closed.set_result(None)

    def _answer(self, command: Command) -> bytes:
        if command.name == "connect":
            return self.connect_reply
        if command.name == "api":
            return p.api_response_bytes(self.api_body)
        if command.name == "exit":
            return p.command_reply_bytes("+OK bye") + p.disconnect_notice_bytes("disconnect", self.uuid)
        data = p.command_reply_bytes("+OK")
        if command.name == "sendmsg" and command.get("call-command") == "execute":
            data += synthetic_execute(self.uuid, command)
        return data

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        if self._task is not None:
            with contextlib.suppress(Exception):
                await self._task


def first_received(section: TraceSection, conn: str = "c1") -> TraceEntry:
    return next(e for e in section.entries if e.kind == "received" and e.conn == conn)


def sent_entries(section: TraceSection, conn: str = "c1") -> Sequence[TraceEntry]:
    return [e for e in section.entries if e.kind == "sent" and e.conn == conn]


async def replay_outbound(
    section: TraceSection,
    handler: Callable[..., object],
    *,
    extras: Iterable[Extra] = (ALLOW_RESUME,),
    events: Sequence[str] = (),
) -> TraceReplay:
    """Run `handler` in a real OutboundServer while `section` is replayed against it."""
    from esl_apps.esl.outbound import OutboundServer

    server = OutboundServer(handler, port=0, events=events, end_timeout_s=1.0)  # type: ignore[arg-type]
    await server.start()
    replay = TraceReplay(section, extras=extras)
    try:
        await replay.drive_outbound("127.0.0.1", server.port)
    finally:
        await server.stop(2.0)
    return replay


class FakeInboundSwitch(_CountWaiters):
    """FreeSWITCH's inbound port (8021) in miniature, restartable on the same port: auth, event, filter,
    api, bgapi (+ BACKGROUND_JOB), noevents, exit. Records every command per connection."""

    def __init__(self, password: str) -> None:
        super().__init__()
        self.password = password
        self.port = 0
        self.connections: list[list[Command]] = []
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self.connected = asyncio.Event()
        self.refuse: dict[str, str] = {}  # command line -> `-ERR ...` reply text

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Like a FreeSWITCH restart: the listener and every connection go away."""
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.close()
        self._writers.clear()
        self.connected.clear()
        with contextlib.suppress(Exception):
            await self._server.wait_closed()

    def count(self) -> int:
        """Commands received on the latest connection."""
        return len(self.connections[-1]) if self.connections else 0

    def emit(self, headers: Sequence[tuple[str, str]], body: str | None = None) -> None:
        for writer in self._writers:
            writer.write(p.event_plain_bytes(headers, body))

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        commands: list[Command] = []
        self.connections.append(commands)
        self._waiters.clear()
        self._writers.append(writer)
        writer.write(p.auth_request_bytes())
        parser = CommandParser()
        try:
            while data := await reader.read(65536):
                for command in parser.feed(data):
                    commands.append(command)
                    self._notify()
                    if not self._answer(command, writer):
                        writer.close()
                        return
                    if command.name == "auth":
                        self.connected.set()
        except ConnectionError:
            pass

    def _answer(self, c: Command, writer: asyncio.StreamWriter) -> bool:
        if c.line in self.refuse:
            writer.write(p.command_reply_bytes(self.refuse[c.line]))
        elif c.name == "auth":
            if c.args != self.password:
                writer.write(p.command_reply_bytes("-ERR invalid") + p.disconnect_notice_bytes(None))
                return False
            writer.write(p.command_reply_bytes("+OK accepted"))
        elif c.name == "event":
            writer.write(p.command_reply_bytes("+OK event listener enabled plain"))
        elif c.name == "filter":
            writer.write(p.command_reply_bytes(f"+OK filter added. [{c.args}]"))
        elif c.name == "api":
            writer.write(p.api_response_bytes("+OK\n"))
        elif c.name == "bgapi":
            job = c.get("Job-UUID") or "00000000-0000-0000-0000-00000000beef"
            writer.write(p.command_reply_bytes(f"+OK Job-UUID: {job}", [("Job-UUID", job)]))
            headers = [("Event-Name", "BACKGROUND_JOB"), ("Job-UUID", job), ("Job-Command", c.args)]
            writer.write(p.event_plain_bytes(headers, "+OK done\n"))
        elif c.name == "exit":
            writer.write(p.command_reply_bytes("+OK bye") + p.disconnect_notice_bytes(None))
            return False
        else:
            writer.write(p.command_reply_bytes("+OK"))
        return True
