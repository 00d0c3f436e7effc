"""The connection core shared by the outbound session and the inbound client (asyncio Protocol).

FreeSWITCH answers commands strictly in order and without a correlation id, while events interleave
freely with the replies (a CHANNEL_PARK often lands between a sendmsg and its +OK). So every command
reserves a slot in a FIFO before its bytes are written, each reply (`command/reply` or `api/response`)
completes the oldest slot, and everything else is dispatched as it arrives. Writing and reserving
happen in one synchronous step, so the FIFO order is the wire order even with many coroutines sending.

A Protocol (not StreamReader + a reader task) keeps the hot path to one callback per read: bytes go to
the sans-IO parser, messages to `_on_message`, and waiting coroutines are woken through futures; no
polling anywhere.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque

from esl_apps.aio import mark_retrieved
from esl_apps.call import CallCommandError

from .protocol import (
    ApiResponse,
    CommandReply,
    EslParser,
    Message,
    RemoteProtocolError,
)

Reply = CommandReply | ApiResponse


def is_error_reply(reply: Reply) -> bool:
    """`-ERR ...` / `-USAGE ...` on a command/reply (api errors stay in the ApiResponse body)."""
    return isinstance(reply, CommandReply) and reply.reply_text.startswith(("-ERR", "-USAGE"))


def release_transport(transport: asyncio.BaseTransport | None) -> None:
    """Break the reference cycle CPython's selector transport keeps to itself (`_read_ready_cb`, a
    bound method of the transport, CPython 3.11-3.13), so a finished call's transport and socket are
    freed by reference counting. Left to the cyclic collector they would wait, frozen, for the next
    full sweep (esl/heap.py): 5 objects per call. The transport is already off the selector here."""
    if transport is not None and getattr(transport, "_read_ready_cb", None) is not None:
        transport._read_ready_cb = None  # type: ignore[attr-defined]


class EslConnection(asyncio.Protocol):
    """Framing + reply matching; subclasses handle events, notices and the connection's end."""

    def __init__(self, logger: logging.Logger) -> None:
        self._log = logger
        self._parser = EslParser()
        self._transport: asyncio.Transport | None = None
        self._replies: deque[asyncio.Future[Reply]] = deque()
        self._lost = asyncio.get_running_loop().create_future()
        self._closing = False

    # ------------------------------------------------------------------ asyncio.Protocol callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            messages = self._parser.feed(data)
        except RemoteProtocolError as exc:
            # Deliver what was complete before the bad frame (it may be the hangup), then give up on
            # the stream: we can no longer tell where the next message starts.
            for message in exc.messages:
                self._dispatch(message)
            self._on_protocol_error(exc)
            return
        for message in messages:
            self._dispatch(message)

    def connection_lost(self, exc: Exception | None) -> None:
        release_transport(self._transport)
        self._transport = None
        error = self._lost_error()
        while self._replies:
            fut = self._replies.popleft()
            if not fut.done():
                fut.set_exception(error)
        if not self._lost.done():
            self._lost.set_result(exc)
        self._on_connection_lost(exc)

    # ------------------------------------------------------------------ sending

    @property
    def connected(self) -> bool:
        return self._transport is not None and not self._transport.is_closing()

    def _send(self, data: bytes) -> asyncio.Future[Reply]:
        """Write a command and reserve its reply slot in the same step."""
        transport = self._transport
        if transport is None or transport.is_closing():
            raise self._lost_error()
        fut: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        fut.add_done_callback(mark_retrieved)
        self._replies.append(fut)
        transport.write(data)
        return fut

    async def _request(self, data: bytes) -> Reply:
        return await self._send(data)

    async def _command(self, data: bytes) -> CommandReply:
        """A command answered by `command/reply`; `-ERR` raises CallCommandError with the text."""
        reply = await self._send(data)
        if is_error_reply(reply):
            raise CallCommandError(reply.reply_text)  # type: ignore[union-attr]
        if not isinstance(reply, CommandReply):
            raise CallCommandError(f"expected command/reply, got api/response {reply.body!r}")
        return reply

    async def _api(self, data: bytes) -> ApiResponse:
        """An `api` command. A malformed one is refused with a command/reply `-ERR` (trace 06c)."""
        reply = await self._send(data)
        if isinstance(reply, CommandReply):
            raise CallCommandError(reply.reply_text)
        return reply

    def _close_transport(self, abort: bool = False) -> None:
        self._closing = True
        transport = self._transport
        if transport is not None and not transport.is_closing():
            if abort:
                transport.abort()
            else:
                transport.close()

    async def _wait_closed(self, timeout: float) -> None:
        try:
            await asyncio.wait_for(asyncio.shield(self._lost), timeout)
        except TimeoutError:
            self._close_transport(abort=True)

    # ------------------------------------------------------------------ dispatch

    def _dispatch(self, message: Message) -> None:
        if isinstance(message, CommandReply | ApiResponse):
            if self._replies:
                fut = self._replies.popleft()
                if not fut.done():
                    fut.set_result(message)
            else:
                self._log.warning("%s: reply without a pending command: %r", self._label(), message)
            return
        self._on_message(message)

    # ------------------------------------------------------------------ subclass hooks

    def _label(self) -> str:
        return "esl"

    def _lost_error(self) -> Exception:
        return ConnectionError("ESL connection closed")

    def _on_message(self, message: Message) -> None:
        raise NotImplementedError

    def _on_protocol_error(self, exc: RemoteProtocolError) -> None:
        self._log.error("%s: malformed data from FreeSWITCH (%s); closing the connection", self._label(), exc)
        self._close_transport(abort=True)

    def _on_connection_lost(self, exc: Exception | None) -> None:
        pass
