"""The channel's thread: runs the dialplan, applications and the park loop, then tears down.

FreeSWITCH runs each channel in its own thread; here it is one asyncio task per channel. The order
of events at the end of a call (CHANNEL_HANGUP, the running application's EXECUTE_COMPLETE,
CHANNEL_UNPARK, the socket's EXECUTE_COMPLETE, CHANNEL_STATE CS_HANGUP / CS_REPORTING,
CHANNEL_HANGUP_COMPLETE) falls out of the nesting: hangup wakes the application, the application
returns into the park loop, the park loop returns into the socket application, and so on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from esl_apps.sim.cdr import hangup_complete_vars
from esl_apps.sim.clock import wait_for_event
from esl_apps.sim.record import AppRun

if TYPE_CHECKING:
    from esl_apps.sim.channel import Channel
    from esl_apps.sim.emulator import Emulator
    from esl_apps.sim.outbound import OutboundConnection

log = logging.getLogger(__name__)

AppHandler = Callable[["AppContext"], Awaitable[None]]
APPS: dict[str, AppHandler] = {}


def application(name: str) -> Callable[[AppHandler], AppHandler]:
    """Register a dialplan application (one handler per application, like mod_dptools)."""

    def register(handler: AppHandler) -> AppHandler:
        APPS[name] = handler
        return handler

    return register


@dataclass
class AppContext:
    session: ChannelSession
    app: str
    arg: str
    via: str

    @property
    def ch(self) -> Channel:
        return self.session.ch

    @property
    def emu(self) -> Emulator:
        return self.session.emu

    def respond(self, text: str) -> None:
        self.ch.set_var("current_application_response", text)


@dataclass
class QueuedExecute:
    app: str
    arg: str
    event_uuid: str | None
    loops: int = 1
    reply: asyncio.Future[None] | None = None  # static mode: +OK once the application finished


class ChannelSession:
    def __init__(self, emu: Emulator, ch: Channel) -> None:
        self.emu = emu
        self.ch = ch
        self.queue: asyncio.Queue[QueuedExecute] = asyncio.Queue()
        self.wake = asyncio.Event()  # park loop: something to look at (queue, transfer, socket gone)
        self.parked = False
        self.current_app: str | None = None
        self.transfer_to: tuple[str, str] | None = None  # (extension, context)
        self.uuid_bridge_to: ChannelSession | None = None
        self.socket_conn: OutboundConnection | None = None  # the socket application running now
        self.connections: list[OutboundConnection] = []  # every ESL connection bound to this channel
        self.after_bridge: list[QueuedExecute] = []  # non-inline meta applications
        self.meta_bindings: dict[str, tuple[str, str, str]] = {}  # digit -> (listen, flags, app::arg)
        self.last_app: tuple[str, str] | None = None
        self.bridge = None  # esl_apps.sim.bridge.Bridge while bridged
        self.task: asyncio.Task[None] | None = None
        self.after_socket = False  # dialplan actions from now on are the fallback after `socket`
        self.exports: dict[str, str | None] = {}  # export: variables handed to legs this one creates
        self.read_buffer = ""
        self.socket_resumed = False
        self.bridge_done = asyncio.Event()  # an agent leg's bridge is over (it may move on)
        self.released = asyncio.Event()  # an originated leg answered (or failed): its program may go on
        self.b_action: Callable[[], Awaitable[None]] | None = None
        self.uuid_bridge_role: str | None = None  # "a" runs the uuid_bridge, "b" waits for it
        self.loopback_partner: ChannelSession | None = None
        self.unbridge = asyncio.Event()  # uuid_transfer while bridged: leave the bridge

    # -- waiting primitives for applications -------------------------------------------------------
    async def wait(self, seconds: float | None) -> str:
        """Sleep ``seconds`` of emulated time; "hangup" or "break" when interrupted first."""
        if not self.ch.up:
            return "hangup"
        if self.ch.break_event.is_set():
            return "break"
        fired = await wait_for_event(self.ch.break_event, self.emu.clock, seconds)
        if not self.ch.up:
            return "hangup"
        if fired:
            return "break"
        return "done"

    def interrupt(self) -> None:
        """uuid_break / transfer / socket resume: stop the running media application now."""
        self.ch.break_event.set()
        self.wake.set()

    # -- executing applications --------------------------------------------------------------------
    async def execute(self, app: str, arg: str = "", *, app_uuid: str | None = None, via: str = "socket",
                      loops: int = 1) -> str | None:
        """Run one application with its CHANNEL_EXECUTE / CHANNEL_EXECUTE_COMPLETE pair."""
        ch = self.ch
        handler = APPS.get(app)
        if handler is None:
            # mod_dptools: "Invalid Application" -> no EXECUTE, hangup DESTINATION_OUT_OF_ORDER (06c).
            log.debug("unknown application %s on %s", app, ch.uuid)
            self.emu.hangup(ch, "DESTINATION_OUT_OF_ORDER")
            return None
        arg = ch.expand(arg or "")
        app_uuid = app_uuid or self.emu.new_uuid()
        response: str | None = None
        for loop in range(1, max(1, loops) + 1):
            if via == "socket":
                ch.set_var("current_loop", str(loop))
                ch.set_var("total_loops", str(max(1, loops)))
            ch.set_var("current_application", app)
            ch.set_var("current_application_data", arg or None)
            ch.set_var("current_application_response", None)
            app_headers = [("Application", app)] + ([("Application-Data", arg)] if arg else [])
            ch.fire("CHANNEL_EXECUTE", after=[*app_headers, ("Application-UUID", app_uuid)])
            ch.set_var("current_application", app)
            run = AppRun(ch.uuid, app, arg, via, self.emu.clock.elapsed())
            for record in ch.records:
                record.apps.append(run)
                if via == "dialplan" and self.after_socket and record.uuid == ch.uuid:
                    record.fallback_actions.append((app, arg))
            previous, self.current_app = self.current_app, app
            self.emu.on_app_start(self, app)
            if ch.up:
                ch.break_event.clear()
            try:
                await handler(AppContext(self, app, arg, via))
            finally:
                self.current_app = previous
            response = ch.vars.get("current_application_response") or "_none_"
            run.end, run.response = self.emu.clock.elapsed(), response
            self.last_app = (app, arg)
            ch.fire("CHANNEL_EXECUTE_COMPLETE",
                    after=[*app_headers, ("Application-Response", response), ("Application-UUID", app_uuid)])
            if self.after_bridge and app == "bridge":
                pending, self.after_bridge = self.after_bridge, []
                for item in pending:  # meta applications bound without `i` (trace 04f)
                    await self.execute(item.app, item.arg, via="after_bridge")
            if not ch.up:
                break
        return response

    def release_from_originate(self, action: Callable[[], Awaitable[None]] | None = None) -> None:
        self.b_action = action
        self.released.set()

    async def wait_digit_or(self, seconds: float | None) -> str:
        """Like wait(), but also returns "digit" as soon as a keyed DTMF digit is waiting."""
        if not self.ch.dtmf_queue.empty():
            return "digit"
        if not self.ch.up:
            return "hangup"
        if self.ch.break_event.is_set():
            return "break"
        getter = asyncio.ensure_future(self.ch.dtmf_arrived.wait())
        breaker = asyncio.ensure_future(self.ch.break_event.wait())
        try:
            done, _ = await asyncio.wait({getter, breaker}, timeout=self.emu.clock.real(seconds)
                                         if seconds is not None else None,
                                         return_when=asyncio.FIRST_COMPLETED)
        finally:
            getter.cancel()
            breaker.cancel()
        if not self.ch.up:
            return "hangup"
        if not self.ch.dtmf_queue.empty():
            return "digit"
        if breaker in done:
            return "break"
        return "done"

    def take_digit(self) -> str:
        """Dequeue one keyed digit: this is when FreeSWITCH fires the DTMF event (trace 02)."""
        digit, duration, source = self.ch.dtmf_queue.get_nowait()
        if self.ch.dtmf_queue.empty():
            self.ch.dtmf_arrived.clear()
        self.ch.digits_dialed += digit
        self.ch.fire("DTMF", after=[("DTMF-Digit", digit), ("DTMF-Duration", duration),
                                    ("DTMF-Source", source)])
        return digit

    async def park_loop(self, conn: OutboundConnection | None = None) -> None:
        """async socket / park: run queued sendmsg executes until hangup, transfer or the socket ends."""
        ch = self.ch
        self.parked = True
        if conn is None:
            ch.fire("CHANNEL_PARK")
        try:
            while True:
                if not ch.up or self.transfer_to or self.uuid_bridge_to:
                    break
                if conn is not None and conn.gone and self.queue.empty():
                    # The application closed its socket; FreeSWITCH notices ~25 ms later.
                    await self.emu.clock.sleep(0.025)
                    break
                if not self.queue.empty():
                    item = self.queue.get_nowait()
                    await self.run_queued(item)
                    continue
                if not ch.dtmf_queue.empty():
                    # An idle park reads one frame every 20 ms and uses up a digit per frame: keys
                    # pressed before a collection starts are gone by then (07; FreeSWITCH 1.11).
                    self.take_digit()
                    await self.emu.clock.sleep(0.02)
                    continue
                self.wake.clear()
                await self._wait_wake()
        finally:
            self.parked = False
        ch.fire("CHANNEL_UNPARK")

    async def _wait_wake(self) -> None:
        waiter = asyncio.ensure_future(self.wake.wait())
        hang = asyncio.ensure_future(self.ch.hangup_event.wait())
        digit = asyncio.ensure_future(self.ch.dtmf_arrived.wait())
        try:
            await asyncio.wait({waiter, hang, digit}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            hang.cancel()
            digit.cancel()

    async def run_queued(self, item: QueuedExecute) -> None:
        try:
            await self.execute(item.app, item.arg, app_uuid=item.event_uuid, via="socket", loops=item.loops)
        finally:
            if item.reply is not None and not item.reply.done():
                item.reply.set_result(None)

    def enqueue(self, item: QueuedExecute) -> None:
        self.queue.put_nowait(item)
        self.wake.set()

    # -- dialplan ----------------------------------------------------------------------------------
    async def run_dialplan(self, destination: str, context: str) -> None:
        ch = self.ch
        while ch.up:
            actions = self.emu.dialplan.lookup(destination, context)
            if actions is None:
                log.info("no extension %s in context %s", destination, context)
                self.emu.hangup(ch, "NO_ROUTE_DESTINATION")
                return
            for app, arg in actions:
                if not ch.up or self.transfer_to:
                    break
                await self.execute(app, arg, via="dialplan")
                if app == "socket":
                    self.after_socket = True
                if self.uuid_bridge_to is not None:
                    await self.join_uuid_bridge()
                    return
            if self.transfer_to is None:
                if ch.up:
                    self.emu.hangup(ch, "NORMAL_CLEARING", remote=False)  # end of the dialplan
                return
            destination, context = self.transfer_to
            self.transfer_to = None
            ch.break_event.clear()
            ch.set_running_state("CS_ROUTING")
            ch.set_running_state("CS_EXECUTE")

    async def join_uuid_bridge(self) -> None:
        from esl_apps.sim.bridge import after_bridge_b, run_uuid_bridge

        if self.uuid_bridge_role == "a":
            await run_uuid_bridge(self.emu, self)
        else:
            self.uuid_bridge_to = None
            await after_bridge_b(self)

    async def run(self, program: Callable[[], Awaitable[None]]) -> None:
        """The channel's whole life: ``program`` (dialplan, park, after-bridge...), then teardown."""
        try:
            await program()
        except asyncio.CancelledError:
            raise
        except Exception:  # a bug in the emulator must not leave the call hanging forever
            log.exception("emulated channel %s failed", self.ch.uuid)
            if self.ch.up:
                self.emu.hangup(self.ch, "NORMAL_TEMPORARY_FAILURE", remote=False)
        finally:
            await self.teardown()

    async def teardown(self) -> None:
        ch = self.ch
        if ch.up:
            self.emu.hangup(ch, "NORMAL_CLEARING", remote=False)
        ch.set_running_state("CS_HANGUP")
        ch.set_running_state("CS_REPORTING")
        ch.set_vars(hangup_complete_vars(ch, self.last_app, self.emu.clock.uepoch()))
        ch.fire("CHANNEL_HANGUP_COMPLETE")
        for conn in list(self.connections):
            conn.channel_gone()
        ch.running_state = "CS_DESTROY"
        ch.fire("CHANNEL_DESTROY", variables=True)
        ch.done_event.set()
        self.emu.channel_done(self)
