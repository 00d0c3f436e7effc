"""A deliberately small ESL client for driving the emulator in tests: send a command, get its
reply; wait for an event. It is not the project's transport (esl_apps.esl.outbound) on purpose:
emulator tests must not depend on the code the emulator exists to test.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from esl_apps.esl.protocol import (
    ApiResponse,
    CommandReply,
    DisconnectNotice,
    EslParser,
    Event,
    Message,
    auth,
    command_bytes,
)


class EslPeer:
    """One connection: replies are matched in order, everything else is kept in ``messages``."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.messages: list[Message] = []
        self.replies: asyncio.Queue[Message] = asyncio.Queue()
        self.changed = asyncio.Event()
        self.closed = asyncio.Event()
        self._task = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        parser = EslParser()
        try:
            while True:
                data = await self.reader.read(65536)
                if not data:
                    break
                for message in parser.feed(data):
                    self.messages.append(message)
                    if isinstance(message, CommandReply | ApiResponse):
                        self.replies.put_nowait(message)
                    self.changed.set()
        finally:
            self.closed.set()
            self.changed.set()

    async def send(self, data: bytes, timeout: float = 5.0) -> Message:
        self.writer.write(data)
        await self.writer.drain()
        return await asyncio.wait_for(self.replies.get(), timeout)

    async def cmd(self, line: str, headers: tuple[tuple[str, str], ...] = (), timeout: float = 5.0) -> str:
        """Send a command; -> Reply-Text or the api body."""
        reply = await self.send(command_bytes(line, headers), timeout)
        return reply.body if isinstance(reply, ApiResponse) else reply.reply_text  # type: ignore[union-attr]

    async def execute(self, app: str, arg: str = "", *, uuid: str, timeout: float = 10.0) -> Event:
        """sendmsg execute with an Event-UUID; -> its CHANNEL_EXECUTE_COMPLETE."""
        headers = [("call-command", "execute"), ("execute-app-name", app), ("event-lock", "true"),
                   ("Event-UUID", uuid)]
        if arg:
            headers.insert(2, ("execute-app-arg", arg))
        await self.cmd("sendmsg", tuple(headers))
        return await self.event("CHANNEL_EXECUTE_COMPLETE", timeout=timeout, **{"Application-UUID": uuid})

    def events(self, name: str | None = None) -> list[Event]:
        return [m for m in self.messages if isinstance(m, Event) and (name is None or m.name == name)]

    async def event(self, name: str, timeout: float = 10.0, **match: str) -> Event:
        async def find() -> Event:
            seen = 0
            while True:
                for message in self.messages[seen:]:
                    if isinstance(message, Event) and message.name == name and all(
                            message.headers.get(k) == v for k, v in match.items()):
                        return message
                seen = len(self.messages)
                if self.closed.is_set():
                    raise ConnectionError(f"closed before {name} {match}")
                self.changed.clear()
                await self.changed.wait()

        return await asyncio.wait_for(find(), timeout)

    async def notice(self, disposition: str, timeout: float = 10.0) -> DisconnectNotice:
        async def find() -> DisconnectNotice:
            while True:
                for message in self.messages:
                    if isinstance(message, DisconnectNotice) and message.disposition == disposition:
                        return message
                if self.closed.is_set():
                    raise ConnectionError(f"closed before the {disposition} notice")
                self.changed.clear()
                await self.changed.wait()

        return await asyncio.wait_for(find(), timeout)

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()
        self._task.cancel()


class ScriptedApp:
    """An outbound ESL server: each connection FreeSWITCH opens runs ``handler(peer)``."""

    def __init__(self, handler: Callable[[EslPeer], Awaitable[None]]) -> None:
        self.handler = handler
        self.peers: list[EslPeer] = []
        self.errors: list[BaseException] = []
        self._server: asyncio.base_events.Server | None = None
        self.port = 0

    async def start(self) -> int:
        async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            peer = EslPeer(reader, writer)
            self.peers.append(peer)
            try:
                await self.handler(peer)
            except Exception as exc:  # surfaced by the test through .errors
                self.errors.append(exc)
            finally:
                await peer.close()

        self._server = await asyncio.start_server(accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


async def inbound_client(port: int, password: str = "ClueCon") -> EslPeer:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    peer = EslPeer(reader, writer)
    await peer.changed.wait()  # auth/request
    reply = await peer.send(auth(password))
    if not isinstance(reply, CommandReply) or not reply.ok:
        raise PermissionError(getattr(reply, "reply_text", "auth failed"))
    return peer
