"""Inbound ESL client: the application connects to FreeSWITCH's port (8021), authenticates and sends
api/bgapi commands and event subscriptions (monitoring, originate for callbacks, agent presence).

* `bgapi` gets a client-chosen Job-UUID (so the waiter exists before the reply can race the
  BACKGROUND_JOB) and BACKGROUND_JOB is subscribed automatically: FreeSWITCH only delivers it when
  subscribed (trace 07: the first bgapi got no event).
* The subscriptions and filters are recorded in the order they were made and replayed after an
  automatic reconnect (exponential backoff), so a FreeSWITCH restart does not silently stop events.
* A wrong password is final (`AuthenticationError`), never retried; the password is never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import uuid as uuidlib
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from esl_apps.aio import mark_retrieved
from esl_apps.call import CallCommandError

from . import protocol as p
from .connection import EslConnection
from .protocol import (
    ApiResponse,
    AuthRequest,
    CommandReply,
    DisconnectNotice,
    Event,
    Message,
    RudeRejection,
    UnknownMessage,
)

_LOG = logging.getLogger("esl_apps.esl.inbound")
_ORPHAN_JOBS_KEPT = 256


class AuthenticationError(ConnectionError):
    """FreeSWITCH refused the ESL password (or the ACL refused us). Retrying will not help."""


class _Connection(EslConnection):
    """One TCP connection of the client; the client outlives it across reconnects."""

    def __init__(self, client: InboundClient) -> None:
        super().__init__(client.log)
        self._client = client
        self.greeted: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def _label(self) -> str:
        return f"inbound {self._client.host}:{self._client.port}"

    def _on_message(self, message: Message) -> None:
        if isinstance(message, Event):
            self._client._on_event(message)
        elif isinstance(message, AuthRequest):
            if not self.greeted.done():
                self.greeted.set_result(None)
        elif isinstance(message, RudeRejection):
            if not self.greeted.done():
                self.greeted.set_exception(AuthenticationError(f"FreeSWITCH refused the connection: "
                                                               f"{message.body.strip()}"))
        elif isinstance(message, DisconnectNotice):
            self._log.debug("%s: disconnect notice", self._label())
        elif isinstance(message, UnknownMessage):
            self._log.warning("%s: skipping unknown content type %r", self._label(), message.content_type)

    def _on_connection_lost(self, exc: Exception | None) -> None:
        if not self.greeted.done():
            self.greeted.set_exception(ConnectionError("connection closed before the auth request"))
        self._client._connection_lost(self)


class InboundClient:
    def __init__(
        self,
        host: str,
        port: int,
        password: str,
        *,
        reconnect: bool = True,
        backoff_initial_s: float = 0.1,
        backoff_max_s: float = 10.0,
        connect_timeout_s: float = 5.0,
        logger: logging.Logger | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self._password = password
        self.reconnect = reconnect
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.connect_timeout_s = connect_timeout_s
        self.log = logger or _LOG
        self._conn: _Connection | None = None
        self._ready = asyncio.Event()
        self._closed = False
        self._subscriptions: list[tuple[str, tuple[str, ...]]] = []
        self._filters: list[tuple[str, str]] = []
        self._jobs: dict[str, asyncio.Future[str]] = {}
        self._orphan_jobs: OrderedDict[str, str] = OrderedDict()
        self._callbacks: list[Callable[[Event], Any]] = []
        self._queues: set[asyncio.Queue[Event | None]] = set()
        self._background: set[asyncio.Task[Any]] = set()
        self._reconnect_task: asyncio.Task[None] | None = None
        self.reconnects = 0

    def __repr__(self) -> str:  # never show the password
        return f"InboundClient({self.host!r}, {self.port})"

    # ------------------------------------------------------------------ connecting

    async def connect(self) -> None:
        """Connect and authenticate. Refused -> ConnectionError; wrong password -> AuthenticationError."""
        self._closed = False
        await self._connect_once()

    async def _connect_once(self) -> None:
        loop = asyncio.get_running_loop()
        _, conn = await asyncio.wait_for(
            loop.create_connection(lambda: _Connection(self), self.host, self.port), self.connect_timeout_s
        )
        try:
            await asyncio.wait_for(asyncio.shield(conn.greeted), self.connect_timeout_s)
            reply = await conn._request(p.auth(self._password))
            if not (isinstance(reply, CommandReply) and reply.ok):
                text = reply.reply_text if isinstance(reply, CommandReply) else reply.body
                raise AuthenticationError(
                    f"FreeSWITCH at {self.host}:{self.port} rejected the ESL password ({text.strip()}); "
                    "check the password in event_socket.conf.xml and the application's configuration"
                )
            self._conn = conn
            for fmt, names in self._subscriptions:
                await conn._command(p.event(list(names), fmt))
            for header, value in self._filters:
                await conn._command(p.filter_(header, value))
        except BaseException:
            conn._close_transport()
            if self._conn is conn:
                self._conn = None
            raise
        self._ready.set()
        self.log.info("inbound ESL connected to %s:%d", self.host, self.port)

    def _connection_lost(self, conn: _Connection) -> None:
        if self._conn is not conn:
            return
        self._conn = None
        self._ready.clear()
        error = ConnectionError(f"ESL connection to {self.host}:{self.port} lost")
        for fut in self._jobs.values():
            if not fut.done():
                fut.set_exception(error)
        self._jobs.clear()
        if self._closed:
            return
        if self.reconnect and self._reconnect_task is None:
            self.log.warning("inbound ESL connection to %s:%d lost; reconnecting", self.host, self.port)
            self._reconnect_task = asyncio.get_running_loop().create_task(self._reconnect_loop())
        elif not self.reconnect:
            self._end_iterators()

    async def _reconnect_loop(self) -> None:
        delay = self.backoff_initial_s
        try:
            while not self._closed:
                await asyncio.sleep(delay)
                try:
                    await self._connect_once()
                except AuthenticationError as exc:
                    self.log.error("inbound ESL: %s; giving up", exc)
                    self._end_iterators()
                    return
                except (OSError, TimeoutError, CallCommandError) as exc:
                    self.log.info("inbound ESL reconnect to %s:%d failed (%s); retry in %.1fs",
                                  self.host, self.port, exc, min(delay * 2, self.backoff_max_s))
                    delay = min(delay * 2, self.backoff_max_s)
                    continue
                self.reconnects += 1
                return
        finally:
            self._reconnect_task = None

    async def wait_connected(self, timeout: float | None = None) -> None:
        await asyncio.wait_for(self._ready.wait(), timeout)

    @property
    def connected(self) -> bool:
        return self._conn is not None and self._conn.connected

    def _live(self) -> _Connection:
        conn = self._conn
        if conn is None or not conn.connected:
            raise ConnectionError(f"not connected to FreeSWITCH at {self.host}:{self.port}")
        return conn

    # ------------------------------------------------------------------ commands

    async def api(self, command: str, args: str = "") -> ApiResponse:
        return await self._live()._api(p.api(command, args))

    async def command(self, data: bytes) -> CommandReply:
        """Raw command bytes (from esl_apps.esl.protocol); `-ERR` raises CallCommandError."""
        return await self._live()._command(data)

    async def bgapi(self, command: str, args: str = "", timeout: float | None = None) -> str:
        """Run `command` in the background; returns the BACKGROUND_JOB body (e.g. ``+OK <uuid>\\n``)."""
        if not any("BACKGROUND_JOB" in names or "ALL" in names for _, names in self._subscriptions):
            await self.subscribe(["BACKGROUND_JOB"])
        conn = self._live()
        job_uuid = str(uuidlib.uuid4())
        fut: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        fut.add_done_callback(mark_retrieved)
        self._jobs[job_uuid] = fut
        try:
            reply = await conn._command(p.bgapi(command, args, job_uuid=job_uuid))
            echoed = reply.job_uuid
            if echoed and echoed != job_uuid:  # an older FreeSWITCH chose its own
                self._jobs[echoed] = self._jobs.pop(job_uuid)
                job_uuid = echoed
                if echoed in self._orphan_jobs:
                    return self._orphan_jobs.pop(echoed)
            return await asyncio.wait_for(fut, timeout)
        finally:
            self._jobs.pop(job_uuid, None)

    async def subscribe(self, names: Sequence[str] | str, fmt: str = "plain") -> None:
        """`event <fmt> NAMES`; remembered and replayed after a reconnect (CUSTOM subclasses follow
        CUSTOM in the same call, e.g. ``["CUSTOM", "vm::maintenance"]``)."""
        names_t = tuple(names.split() if isinstance(names, str) else names)
        await self._live()._command(p.event(list(names_t), fmt))
        self._subscriptions.append((fmt, names_t))

    async def unsubscribe_all(self) -> None:
        await self._live()._command(p.noevents())
        self._subscriptions.clear()

    async def add_filter(self, header: str, value: str) -> None:
        await self._live()._command(p.filter_(header, value))
        self._filters.append((header, value))

    async def remove_filter(self, header: str, value: str | None = None) -> None:
        await self._live()._command(p.filter_delete(header, value))
        self._filters = [(h, v) for h, v in self._filters if not (h == header and value in (None, v))]

    # ------------------------------------------------------------------ events

    def on_event(self, callback: Callable[[Event], Any]) -> None:
        """Call `callback(event)` for every event (an awaitable result runs as a task)."""
        self._callbacks.append(callback)

    async def events(self, maxsize: int = 10000) -> AsyncIterator[Event]:
        """Iterate over events until the client is closed (or gives up reconnecting)."""
        queue: asyncio.Queue[Event | None] = asyncio.Queue(maxsize)
        self._queues.add(queue)
        try:
            while True:
                event = await queue.get()
                if event is None:
                    return
                yield event
        finally:
            self._queues.discard(queue)

    def _on_event(self, event: Event) -> None:
        if event.name == "BACKGROUND_JOB":
            job = event.headers.get("Job-UUID") or ""
            fut = self._jobs.get(job)
            if fut is not None:
                if not fut.done():
                    fut.set_result(event.body or "")
            else:
                self._orphan_jobs[job] = event.body or ""
                while len(self._orphan_jobs) > _ORPHAN_JOBS_KEPT:
                    self._orphan_jobs.popitem(last=False)
        for callback in tuple(self._callbacks):
            try:
                result = callback(event)
                if inspect.isawaitable(result):
                    task = asyncio.ensure_future(result)
                    self._background.add(task)
                    task.add_done_callback(self._background.discard)
            except Exception:
                self.log.exception("inbound ESL: event callback failed on %s", event.name)
        for queue in self._queues:
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                self.log.warning("inbound ESL: event consumer too slow; dropping %s", event.name)

    def _end_iterators(self) -> None:
        for queue in self._queues:
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(None)

    # ------------------------------------------------------------------ shutdown

    async def close(self, timeout: float = 2.0) -> None:
        """Send `exit`, close the socket, stop reconnecting and end event iterators."""
        self._closed = True
        if self._reconnect_task is not None:
            self._reconnect_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reconnect_task
        conn = self._conn
        if conn is not None and conn.connected:
            with contextlib.suppress(TimeoutError, ConnectionError):
                await asyncio.wait_for(conn._request(p.exit_()), timeout)
            conn._close_transport()
            await conn._wait_closed(timeout)
        self._conn = None
        self._ready.clear()
        self._end_iterators()
