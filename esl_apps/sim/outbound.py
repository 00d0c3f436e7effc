"""The ``socket`` dialplan application: FreeSWITCH connecting out to the ESL application.

Behaviour reproduced from the traces: connection refused -> the application returns at once (06a);
a listener that never sends ``connect`` -> after 25 s a disconnect notice, close, and the channel
stays parked inside ``socket`` (06a); async mode parks the call and runs queued sendmsg executes in
order (event-lock); static mode answers a sendmsg only when its application finished and delivers no
events meanwhile (06b); when the application closes its socket the running application finishes (or
is cut short with ``resume`` / ``socket_resume``) and the dialplan continues (06b); at hangup a
``linger`` notice, or a disconnect notice and close without linger (01).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from esl_apps.esl.protocol import Command, connect_reply_bytes, disconnect_notice_bytes
from esl_apps.sim.esl_conn import MYEVENTS, EslConnection
from esl_apps.sim.record import SocketAttempt
from esl_apps.sim.session import AppContext, QueuedExecute, application

if TYPE_CHECKING:
    from esl_apps.sim.session import ChannelSession

log = logging.getLogger(__name__)
CONNECT_TIMEOUT_S = 25.0


class OutboundConnection(EslConnection):
    def __init__(self, session: ChannelSession, reader, writer, *, async_mode: bool, full: bool,  # type: ignore[no-untyped-def]
                 attempt: SocketAttempt) -> None:
        super().__init__(session.emu, reader, writer)
        self.session = session
        self.async_mode = async_mode
        self.full = full
        self.attempt = attempt
        self.connected = asyncio.Event()
        self.linger: int | None = None  # None: no linger; -1: forever
        self.resume = False
        self.session_ended = False  # channel destroyed: only api/exit left
        self.owner_uuid = session.ch.uuid
        self.records = list(session.ch.records)
        self.reader_task: asyncio.Task[None] | None = None
        self.linger_sent = False
        self.park_ready = asyncio.Event()  # when the async park loop starts (fires CHANNEL_PARK)

    @property
    def uuid(self) -> str:
        return self.session.ch.uuid

    def deliver(self, event) -> None:  # type: ignore[no-untyped-def]
        if self.session_ended and event.uuid == self.uuid:
            return  # the session is destroyed: the listener no longer gets its events
        super().deliver(event)

    async def serve(self) -> None:
        await self.read_commands()
        self.gone = True
        if not self.closed:
            self.attempt.closed_by_app = not self.attempt.exited
        self.session.wake.set()
        resume = self.resume or self.session.ch.vars.get("socket_resume") == "true"
        if resume and self.session.socket_conn is self:
            self.session.socket_resumed = True  # the running application is cut short (06b)
            self.session.interrupt()
        await self.close()

    async def handle(self, cmd: Command) -> bool:
        name = cmd.name
        if name == "connect":
            self.attempt.handshake = True
            headers = self.session.ch.channel_data_headers()
            mode = "async" if self.async_mode else "static"
            self.write(connect_reply_bytes(headers, mode, "full" if self.full else "single-channel"),
                       self.note("connect", "+OK\n"), force=True)
            self.connected.set()
            return True
        if name == "exit" or name.startswith("...") or name == "filter":
            if name != "filter":
                self.attempt.exited = True
            result = await self.handle_common(cmd, session_uuid=self.uuid)
            if result is None:
                self.reply("-ERR command not found")
                return True
            return result
        if name in ("api", "bgapi", "getvar"):
            self.park_ready.set()
        if name == "resume":
            self.resume = True
            self.session.ch.set_var("socket_resume", "true")
            self.reply("+OK")
            return True
        if name == "getvar":
            value = self.session.ch.vars.get(cmd.args.strip()) if cmd.args.strip() else None
            self.reply(value if value else "-ERR command not found")
            return True
        if name == "myevents":
            self.reply(self._myevents(cmd.args))
            return True
        if name == "divert_events":
            arg = cmd.args.strip()
            if not arg:
                self.reply("-ERR missing value.")
            else:
                self.reply("+OK events diverted" if arg.lower() == "on" else "+OK events not diverted")
            return True
        if name == "sendmsg":
            await self._sendmsg(cmd)
            return True
        if not self.full:
            self.reply("-ERR command not found")
            return True
        if name == "linger":
            self._linger(cmd.args)
            return True
        if name == "nolinger":
            self.linger = None
            self.reply("+OK will not linger")
            return True
        result = await self.handle_common(cmd, session_uuid=self.uuid)
        if result is None:
            self.reply("-ERR command not found")
            return True
        return result

    def _myevents(self, args: str) -> str:
        if self.myevents_uuid is not None:
            return "-ERR aready enabled."
        self.myevents_uuid = self.uuid
        self.event_list |= MYEVENTS
        self.events_on = True
        self.emu.bus_scope(self, self.uuid)
        if "json" in args.lower():
            self.format = "json"
        self.emu.on_subscribed(self.session)
        return "+OK Events Enabled"

    def _linger(self, args: str) -> None:
        if args.strip():
            try:
                seconds = int(args.strip().split()[0])
            except ValueError:
                seconds = 0  # atoi("abc") (06c)
            self.linger = seconds
            self.reply(f"+OK will linger {seconds} seconds")
        else:
            self.linger = -1
            self.reply("+OK will linger")

    async def _sendmsg(self, cmd: Command) -> None:
        target = cmd.args.strip() or cmd.get("session-id") or ""
        session = self.session
        if target and target != self.uuid:
            other = self.emu.sessions.get(target)
            if other is None:
                self.reply(f"-ERR invalid session id [{target}]")
                return
            session = other
        async_mode = self.async_mode or (cmd.get("async") or "").lower() == "true"
        self.park_ready.set()
        item = self.emu.sendmsg_item(session, cmd)
        if item is None or session is not self.session or async_mode:
            self.reply("+OK")
            if item is not None:
                session.enqueue(item)
            return
        # Static mode: the reply waits for the application; events produced meanwhile follow it.
        item.reply = asyncio.get_running_loop().create_future()
        self.hold()
        session.enqueue(item)
        try:
            await item.reply
        finally:
            self.reply("+OK", force=True)
            self.release()

    # -- channel lifecycle -------------------------------------------------------------------------
    def channel_hanging_up(self) -> None:
        """The bridge tears down slowly: FreeSWITCH's listener sends the linger notice first (03d/03e)."""
        if self.linger is not None and not self.linger_sent and not self.closed:
            self._send_linger()

    def _send_linger(self) -> None:
        self.linger_sent = True
        ch = self.session.ch
        self.write(disconnect_notice_bytes("linger", ch.uuid, ch.name, self.linger or -1),
                   self.note("disconnect", "linger"))
        if self.linger is not None and self.linger >= 0:
            # `now > start + N` on whole epoch seconds: the socket closes within N+1 s (mod_event_socket).
            self.emu.clock.call_later(float(self.linger) + 1.0, self._linger_expired)

    def _linger_expired(self) -> None:
        if not self.closed:
            self.disconnect(self.uuid)
            self.emu.track(asyncio.ensure_future(self.close()))

    def channel_gone(self) -> None:
        self.session_ended = True
        if self.closed:
            return
        if self.linger is not None:
            if not self.linger_sent:
                self._send_linger()
            return
        self.disconnect(self.uuid)
        self.emu.track(asyncio.ensure_future(self.close()))


def parse_socket_arg(arg: str) -> tuple[str, int, bool, bool]:
    words = arg.split()
    target = words[0] if words else "127.0.0.1"
    host, _, port = target.partition(":")
    flags = {w.lower() for w in words[1:]}
    return host or "127.0.0.1", int(port or 8084), "async" in flags, "full" in flags


@application("socket")
async def socket_app(ctx: AppContext) -> None:
    session, ch, emu = ctx.session, ctx.ch, ctx.emu
    host, port, async_mode, full = parse_socket_arg(ctx.arg)
    ch.set_var("socket_host", host)
    attempt = SocketAttempt(ch.uuid, f"{host}:{port}", emu.clock.elapsed())
    for record in ch.records:
        record.sockets.append(attempt)
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError:
        attempt.refused = True  # "Socket Error: Connection refused": the dialplan goes on at once
        attempt.ended = emu.clock.elapsed()
        return
    attempt.connected = True
    conn = OutboundConnection(session, reader, writer, async_mode=async_mode, full=full, attempt=attempt)
    emu.bus_subscribe(conn)
    session.connections.append(conn)
    session.socket_conn = conn
    conn.reader_task = asyncio.ensure_future(conn.serve())
    emu.track(conn.reader_task)
    try:
        await _run_socket(ctx, conn, async_mode)
    finally:
        session.socket_conn = None
        session.socket_resumed = False
        attempt.ended = emu.clock.elapsed()


async def _run_socket(ctx: AppContext, conn: OutboundConnection, async_mode: bool) -> None:
    session, ch, emu = ctx.session, ctx.ch, ctx.emu
    connected = asyncio.ensure_future(conn.connected.wait())
    hung = asyncio.ensure_future(ch.hangup_event.wait())
    gone = asyncio.ensure_future(conn.gone_event.wait())
    await asyncio.wait({connected, hung, gone}, timeout=emu.clock.real(CONNECT_TIMEOUT_S),
                       return_when=asyncio.FIRST_COMPLETED)
    for fut in (connected, hung, gone):
        fut.cancel()
    if not conn.connected.is_set():
        if ch.up and not conn.gone:
            # No `connect` within 25 s: goodbye, close, and the channel parks forever (06a).
            conn.write(disconnect_notice_bytes("disconnect", ch.uuid), conn.note("disconnect", "disconnect"),
                       force=True)
            await conn.close()
            await session.park_loop(None)
        return
    if async_mode:
        await _wait_park_ready(ctx, conn)
        ch.fire("CHANNEL_PARK")
        await session.park_loop(conn)
        return
    # Static mode: no CHANNEL_PARK; run what the connection queues until it goes away or hangup.
    while ch.up and not session.transfer_to:
        if not session.queue.empty():
            await session.run_queued(session.queue.get_nowait())
            continue
        if conn.gone:
            await emu.clock.sleep(0.025)
            break
        session.wake.clear()
        await session._wait_wake()


async def _wait_park_ready(ctx: AppContext, conn: OutboundConnection) -> None:
    """FreeSWITCH parks the channel right after `connect`; the application usually has subscribed by
    then (traces 01/03/05), so the park event is released by its first sendmsg/api, or after 1 s."""
    waits = {asyncio.ensure_future(conn.park_ready.wait()), asyncio.ensure_future(ctx.ch.hangup_event.wait()),
             asyncio.ensure_future(conn.gone_event.wait())}
    await asyncio.wait(waits, timeout=ctx.emu.clock.real(1.0), return_when=asyncio.FIRST_COMPLETED)
    for fut in waits:
        fut.cancel()


@application("park")
async def park_app(ctx: AppContext) -> None:
    await ctx.session.park_loop(None)


__all__ = ["OutboundConnection", "QueuedExecute", "parse_socket_arg"]
