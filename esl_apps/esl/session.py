"""OutboundSession: one call under the application's control (created by OutboundServer per connection).

It implements the per-call half of the outbound behaviour described in outbound.py: the pipelined setup,
execute() matched by Application-UUID, hangup tracking, listeners, and the end of the call (wait for
CHANNEL_HANGUP_COMPLETE and the linger notice, then `exit`), or the hand-back to the dialplan by closing
the socket when the application is done with a live call or failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import inspect
import time
import uuid as uuidlib
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from esl_apps.aio import mark_retrieved
from esl_apps.call import CallCommandError, CallHangup

from . import protocol as p
from .connection import EslConnection, is_error_reply
from .protocol import (
    ApiResponse,
    CommandReply,
    DisconnectNotice,
    Event,
    LogData,
    Message,
    RemoteProtocolError,
    UnknownMessage,
)

if TYPE_CHECKING:
    from .outbound import OutboundServer

EventListener = Callable[[Event], Any]


class ChannelVariables(Mapping[str, str]):
    """`variable_*` headers of one event seen without the prefix (decoded lazily, nothing copied)."""

    __slots__ = ("_headers",)

    def __init__(self, headers: Mapping[str, str]) -> None:
        self._headers = headers

    def __getitem__(self, name: str) -> str:
        return self._headers["variable_" + name]

    def get(self, name: str, default: Any = None) -> Any:
        return self._headers.get("variable_" + name, default)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and ("variable_" + name) in self._headers

    def __iter__(self) -> Iterator[str]:
        return (k[9:] for k in self._headers if k.startswith("variable_"))

    def __len__(self) -> int:
        return sum(1 for k in self._headers if k.startswith("variable_"))


class OutboundSession(EslConnection):
    """One call under the application's control. Created by OutboundServer, one per connection."""

    def __init__(self, server: OutboundServer) -> None:
        super().__init__(server.log)
        self._server = server
        loop = asyncio.get_running_loop()
        self.uuid: str = ""
        self.channel: Mapping[str, str] = {}
        self._var_headers: Mapping[str, str] = {}
        self.hung_up = False
        self.hangup_cause: str | None = None
        self._hangup_seen: asyncio.Future[None] = loop.create_future()
        self._hangup_complete = asyncio.Event()
        self._linger_notice = asyncio.Event()
        self._executes: dict[str, asyncio.Future[Event]] = {}
        self._listeners: list[EventListener] = []
        self._background: set[asyncio.Task[Any]] = set()
        self._hangup_requested = False
        self._handler_running = False
        self._linger_timer: asyncio.TimerHandle | None = None
        self._connect_reply: asyncio.Future[Any] | None = None
        self.task: asyncio.Task[None] | None = None
        # One contextvars.Context per call: the handler's task runs in it and so do this
        # connection's callbacks, so whatever the handler binds (the call UUID of log lines,
        # esl_apps.ops.logcontext) is also seen by listeners, timers and the tasks they start.
        self._context = contextvars.copy_context()
        # When the message the application reacts to arrived (perf_counter), for the
        # event -> next command latency metric (OutboundServer.reaction_observer).
        self._reaction_mark: float | None = None

    # ------------------------------------------------------------------ public API

    @property
    def variables(self) -> Mapping[str, str]:
        """Channel variables as last reported (connect reply, then every event carrying them)."""
        return ChannelVariables(self._var_headers)

    async def command(self, data: bytes) -> CommandReply:
        """Send raw command bytes (built with esl_apps.esl.protocol); `-ERR` raises CallCommandError."""
        return await self._command(data)

    async def api(self, command: str, args: str = "") -> ApiResponse:
        """`api` on this socket (works while lingering after the hangup too); errors stay in `.ok`."""
        return await self._api(p.api(command, args))

    async def getvar(self, name: str) -> str | None:
        try:
            reply = await self._command(p.getvar(name))
        except CallCommandError:
            return None  # FreeSWITCH answers `-ERR command not found` for an unset variable
        return reply.reply_text

    async def execute(self, app: str, arg: str | None = None, *, event_lock: bool = True) -> Event:
        """Run a dialplan application; returns its CHANNEL_EXECUTE_COMPLETE (matched by Application-UUID).

        A running application still completes when the channel hangs up (playback reports PLAYBACK
        ERROR), and that completion is returned; callers look at `hung_up`. CallHangup is raised when
        the channel is already gone, or when CHANNEL_HANGUP_COMPLETE or a disconnect comes first.
        """
        if self.hung_up:
            raise CallHangup(self.hangup_cause or "NORMAL_CLEARING")
        event_uuid = str(uuidlib.uuid4())
        fut: asyncio.Future[Event] = asyncio.get_running_loop().create_future()
        fut.add_done_callback(mark_retrieved)
        self._executes[event_uuid] = fut
        try:
            data = p.sendmsg_execute(app, arg, event_lock=event_lock, event_uuid=event_uuid)
            reply = await self._send(data)
            if is_error_reply(reply):
                raise CallCommandError(reply.reply_text)  # type: ignore[union-attr]
            return await fut
        finally:
            self._executes.pop(event_uuid, None)

    async def hangup(self, cause: str = "NORMAL_CLEARING") -> None:
        """sendmsg `call-command: hangup` (FreeSWITCH hangs up at once, no EXECUTE events)."""
        if self.hung_up:
            return
        self._hangup_requested = True
        await self._command(p.sendmsg_hangup(cause))

    async def wait_hangup(self) -> str | None:
        """Return the hangup cause once CHANNEL_HANGUP (or the connection's end) is seen."""
        await asyncio.shield(self._hangup_seen)
        return self.hangup_cause

    def add_event_listener(self, listener: EventListener) -> None:
        """Called with every event of this connection, before waiting coroutines resume.
        A listener returning an awaitable has it run as a task."""
        self._listeners.append(listener)

    def remove_event_listener(self, listener: EventListener) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    # ------------------------------------------------------------------ lifecycle

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        if not self._server._admit(self):
            # At capacity or stopping: close now so FreeSWITCH continues its dialplan (fallback).
            self._close_transport()
            return
        self._connect_reply = self._send(p.connect())  # first command out before anything else
        self.task = asyncio.get_running_loop().create_task(self._run(), context=self._context)

    def data_received(self, data: bytes) -> None:
        self._context.run(EslConnection.data_received, self, data)

    def connection_lost(self, exc: Exception | None) -> None:
        self._context.run(EslConnection.connection_lost, self, exc)

    # ------------------------------------------------------------------ latency hook

    def _send(self, data: bytes) -> asyncio.Future[Any]:
        mark = self._reaction_mark
        if mark is not None:
            self._reaction_mark = None
            observer = self._server.reaction_observer
            if observer is not None:
                observer(time.perf_counter() - mark)
        return super()._send(data)

    def _dispatch(self, message: Message) -> None:
        # A reply the application awaited: its next command is its reaction to it.
        if (
            self._server.reaction_observer is not None
            and not self.hung_up
            and isinstance(message, CommandReply | ApiResponse)
        ):
            self._reaction_mark = time.perf_counter()
        super()._dispatch(message)

    async def _run(self) -> None:
        try:
            if not await self._setup():
                return
            failed = await self._run_handler()
            await self._finish(failed)
        except Exception:  # a bug here must not leave the caller parked
            self._log.exception("call %s: internal error in the outbound session", self.uuid or "?")
            self._close_transport()
        finally:
            if self._linger_timer is not None:
                self._linger_timer.cancel()
            self._server._release(self)

    async def _setup(self) -> bool:
        assert self._connect_reply is not None
        try:
            # FreeSWITCH answers at once; a peer that never does must not hold a call slot forever.
            reply = await asyncio.wait_for(self._connect_reply, self._server.setup_timeout_s)
            if not isinstance(reply, CommandReply):
                raise CallCommandError(f"unexpected reply to connect: {reply!r}")
            self.channel = reply.headers
            self._var_headers = reply.headers
            self.uuid = reply.headers.get("Unique-ID") or reply.headers.get("Channel-Unique-ID") or ""
            pending = [self._send(p.myevents())]
            if self._server.events:
                pending.append(self._send(p.event(list(self._server.events))))
            pending.append(self._send(p.linger()))
            if self._server.send_resume:
                pending.append(self._send(p.resume()))
            for fut in pending:
                answer = await fut
                if is_error_reply(answer):
                    raise CallCommandError(answer.reply_text)  # type: ignore[union-attr]
        except (CallHangup, CallCommandError, ConnectionError, TimeoutError) as exc:
            self._log.warning("call %s: session setup failed (%s); dialplan continues", self.uuid or "?", exc)
            self._close_transport()
            return False
        return True

    async def _run_handler(self) -> bool:
        """-> True when the application failed (exception) and the dialplan must take the call."""
        self._handler_running = True
        try:
            await self._server.handler(self)
        except CallHangup as exc:
            self._log.debug("call %s: ended (%s)", self.uuid, exc.cause)
        except Exception:
            self._log.exception(
                "call %s: application failed; closing the socket so the dialplan fallback takes the call",
                self.uuid,
            )
            return True
        finally:
            self._handler_running = False
        return False

    async def _finish(self, failed: bool) -> None:
        if not self.connected:
            return
        if not self.hung_up and (failed or not self._hangup_requested):
            # The call is alive and the application is done with it (or broke): hand it back to the
            # dialplan. With `resume` the running application stops and the next action runs.
            self._close_transport()
            await self._wait_closed(self._server.end_timeout_s)
            return
        await self._wait_for_end(self._server.end_timeout_s)
        if self.connected:
            with contextlib.suppress(TimeoutError, ConnectionError, CallHangup):
                await asyncio.wait_for(self._send(p.exit_()), self._server.end_timeout_s)
        self._close_transport()
        await self._wait_closed(self._server.end_timeout_s)

    async def _wait_for_end(self, timeout: float) -> None:
        async def both() -> None:
            await self._hangup_complete.wait()
            await self._linger_notice.wait()

        try:
            await asyncio.wait_for(both(), timeout)
        except TimeoutError:
            self._log.debug("call %s: no HANGUP_COMPLETE/linger notice within %.1fs", self.uuid, timeout)

    def _linger_expired(self) -> None:
        if self._handler_running and self.connected:
            self._log.warning(
                "call %s: application still running %.0fs after the hangup; closing its socket",
                self.uuid, self._server.max_linger_s,
            )
            self._close_transport()

    # ------------------------------------------------------------------ incoming

    def _on_message(self, message: Message) -> None:
        if isinstance(message, Event):
            self._on_event(message)
        elif isinstance(message, DisconnectNotice):
            if message.linger:
                self._linger_notice.set()
        elif isinstance(message, UnknownMessage):
            self._log.warning(
                "call %s: skipping a message of unknown content type %r", self.uuid, message.content_type
            )
        elif not isinstance(message, LogData):
            self._log.debug("call %s: ignoring %r", self.uuid, message)

    def _on_event(self, event: Event) -> None:
        headers = event.headers
        name = event.name
        own = headers.get("Unique-ID") == self.uuid
        if own and "variable_uuid" in headers:
            self._var_headers = headers
        if name == "CHANNEL_EXECUTE_COMPLETE":
            fut = self._executes.pop(headers.get("Application-UUID") or "", None)
            if fut is not None and not fut.done():
                if self._server.reaction_observer is not None and not self.hung_up:
                    self._reaction_mark = time.perf_counter()
                fut.set_result(event)
        elif name == "CHANNEL_HANGUP" and own:
            self._mark_hangup(headers.get("Hangup-Cause"))
        elif name == "CHANNEL_HANGUP_COMPLETE" and own:
            self._mark_hangup(headers.get("Hangup-Cause"))
            self._hangup_complete.set()
            self._fail_executes()
            if self._linger_timer is None:
                loop = asyncio.get_running_loop()
                self._linger_timer = loop.call_later(self._server.max_linger_s, self._linger_expired)
        for listener in tuple(self._listeners):
            try:
                result = listener(event)
                if inspect.isawaitable(result):
                    task = asyncio.ensure_future(result)
                    self._background.add(task)
                    task.add_done_callback(self._background.discard)
            except Exception:
                self._log.exception("call %s: event listener failed on %s", self.uuid, name)

    def _mark_hangup(self, cause: str | None) -> None:
        self._reaction_mark = None  # what follows a hangup is clean-up, not a caller waiting
        if not self.hung_up:
            self.hung_up = True
            self.hangup_cause = cause or "NORMAL_CLEARING"
        if not self._hangup_seen.done():
            self._hangup_seen.set_result(None)

    def _fail_executes(self) -> None:
        error = self._lost_error()
        for fut in self._executes.values():
            if not fut.done():
                fut.set_exception(error)
        self._executes.clear()

    def _label(self) -> str:
        return f"call {self.uuid or '?'}"

    def _lost_error(self) -> Exception:
        return CallHangup(self.hangup_cause or "CONNECTION_LOST")

    def _on_protocol_error(self, exc: RemoteProtocolError) -> None:
        self._log.error(
            "call %s: malformed frame from FreeSWITCH (%s); closing the socket so the dialplan "
            "takes the call",
            self.uuid or "?", exc,
        )
        self._close_transport()

    def _on_connection_lost(self, exc: Exception | None) -> None:
        self._fail_executes()
        if not self._hangup_seen.done():
            self._hangup_seen.set_result(None)
        self._hangup_complete.set()
        self._linger_notice.set()
