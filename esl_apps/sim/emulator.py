"""The FreeSWITCH stand-in: dialplan, endpoints, calls, the event bus and the inbound ESL listener.

Tests and ``esl-apps simulate`` use this class only::

    emu = Emulator(time_scale=0.01)
    await emu.start()                       # inbound ESL on 127.0.0.1:emu.inbound_port
    emu.add_extension("7100", [("socket", "127.0.0.1:8084 async full")])
    emu.add_endpoint("user/1001@pbx", AgentBehaviour(answer_after_s=2))
    call = await emu.place_call("7100", script=CallerScript(digits=["1"]))
    record = await call.wait_done(10)
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import uuid as uuid_mod
from collections.abc import Iterable
from pathlib import Path

from esl_apps.sim import apps, bridge, digits, factory, media, outbound, recording, voicemail  # noqa: F401  (registers apps)
from esl_apps.sim.api import Api
from esl_apps.sim.call import EmulatedCall
from esl_apps.sim.channel import Channel, EmittedEvent, rfc2822_date
from esl_apps.sim.clock import Clock
from esl_apps.sim.dialplan import Dialplan
from esl_apps.sim.dialstring import Leg
from esl_apps.sim.esl_conn import EslConnection
from esl_apps.sim.inbound import InboundServer
from esl_apps.sim.record import CallRecord
from esl_apps.sim.scripts import AgentBehaviour, CallerScript, Party
from esl_apps.sim.session import ChannelSession, QueuedExecute

log = logging.getLogger(__name__)


class Emulator:
    def __init__(self, *, time_scale: float = 1.0, inbound_password: str | None = None, rng_seed: int = 0,
                 host: str = "127.0.0.1", public_preamble: bool = True, light_records: bool = False) -> None:
        self.clock = Clock(time_scale)
        self.rng = random.Random(rng_seed)
        self.core_uuid = self.new_uuid()
        self.host = host
        self.inbound_password = inbound_password
        self.inbound_port: int | None = None
        self.dialplan = Dialplan()
        if public_preamble:
            self.dialplan.preambles["public"] = [
                lambda: ("set", "outside_call=true"),
                lambda: ("export", f"RFC2822_DATE={rfc2822_date(self.clock.now())}"),
            ]
        self.endpoints: dict[str, AgentBehaviour] = {}
        self.ring_log = []  # type: ignore[var-annotated]
        self.sessions: dict[str, ChannelSession] = {}
        self.calls: list[EmulatedCall] = []
        self.missing_files: set[str] = set()
        self.file_durations: dict[str, float] = {}
        self.prompt_s = 1.0
        self.voicemail_prompts_missing = False
        self.write_recordings = False
        self.active_recordings: dict = {}  # type: ignore[type-arg]
        self.voicemails: list[dict[str, object]] = []
        self.parties: dict[str, Party] = {}
        self.scripts: dict[str, CallerScript] = {}
        self.behaviours: dict[str, AgentBehaviour] = {}
        self.subscribers: list[EslConnection] = []
        self.scoped: dict[str, list[EslConnection]] = {}
        self.api = Api(self)
        self.xml_files: list[tuple[Path, str | None]] = []
        self._sequence = itertools.count(500)
        self._session_ids = itertools.count(1)
        self._tasks: set[asyncio.Future] = set()  # type: ignore[type-arg]
        self._server: InboundServer | None = None
        self.sessions_since_start = 0
        self.light_records = light_records  # records keep a few headers per event (load runs)

    # -- identity and bookkeeping ------------------------------------------------------------------
    def new_uuid(self) -> str:
        return str(uuid_mod.UUID(int=self.rng.getrandbits(128), version=4))

    def next_sequence(self) -> int:
        return next(self._sequence)

    def next_session_id(self) -> int:
        self.sessions_since_start += 1
        return next(self._session_ids)

    def track(self, task: asyncio.Future) -> None:  # type: ignore[type-arg]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- configuration -----------------------------------------------------------------------------
    def add_extension(self, number: str, actions: Iterable[tuple[str, str]], context: str = "public") -> None:
        self.dialplan.add(number, actions, context)

    def add_endpoint(self, endpoint: str, behaviour: AgentBehaviour | None = None) -> None:
        self.endpoints[endpoint] = behaviour or AgentBehaviour()

    def load_dialplan_xml(self, path: str | Path, context: str | None = None) -> int:
        """A FreeSWITCH XML dialplan file or directory (``esl-apps build --out DIR`` output)."""
        path = Path(path)
        count = self.dialplan.load_xml(path, context)
        if (path, context) not in self.xml_files:
            self.xml_files.append((path, context))
        return count

    def reload_xml(self) -> None:
        """api reloadxml: re-read the XML files loaded so far (extensions added in code stay)."""
        for context, extensions in self.dialplan.contexts.items():
            self.dialplan.contexts[context] = [e for e in extensions if e.source is None]
        for path, context in self.xml_files:
            self.dialplan.load_xml(path, context)

    # -- lifecycle ---------------------------------------------------------------------------------
    async def start(self, port: int = 0) -> None:
        self.clock.now()  # pin the emulated epoch to the loop's clock
        self._server = InboundServer(self)
        self.inbound_port = await self._server.start(self.host, port)

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop()
            self._server = None
        for session in list(self.sessions.values()):
            if session.ch.up:
                self.hangup(session.ch, "SYSTEM_SHUTDOWN", remote=False)
        for conn in [*self.subscribers, *(c for conns in self.scoped.values() for c in conns)]:
            await conn.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- events ------------------------------------------------------------------------------------
    def publish(self, event: EmittedEvent) -> None:
        """Hand an event to the listeners that may want it: every unscoped listener, and the
        `myevents` listeners of its Unique-ID (or of its Job-Owner-UUID for BACKGROUND_JOB)."""
        for conn in tuple(self.subscribers):
            conn.deliver(event)
        key = event.uuid or (event.get("Job-Owner-UUID") if event.name == "BACKGROUND_JOB" else None)
        if key and key in self.scoped:
            for conn in tuple(self.scoped[key]):
                conn.deliver(event)

    def bus_subscribe(self, conn: EslConnection) -> None:
        self.subscribers.append(conn)

    def bus_scope(self, conn: EslConnection, uuid: str) -> None:
        """`myevents`: the listener only ever gets events of one channel; index it by that uuid."""
        if conn in self.subscribers:
            self.subscribers.remove(conn)
        conn.scope = uuid
        self.scoped.setdefault(uuid, []).append(conn)

    def bus_unsubscribe(self, conn: EslConnection) -> None:
        if conn in self.subscribers:
            self.subscribers.remove(conn)
        conns = self.scoped.get(conn.scope or "")
        if conns and conn in conns:
            conns.remove(conn)
            if not conns:
                del self.scoped[conn.scope or ""]

    def on_subscribed(self, session: ChannelSession) -> None:
        return None

    # -- channels ----------------------------------------------------------------------------------
    def _start_session(self, ch: Channel, program_factory) -> ChannelSession:  # type: ignore[no-untyped-def]
        session = ChannelSession(self, ch)
        self.sessions[ch.uuid] = session
        task = asyncio.ensure_future(session.run(lambda: program_factory(session)))
        session.task = task
        self.track(task)
        return session

    def channel_done(self, session: ChannelSession) -> None:
        uuid = session.ch.uuid
        self.sessions.pop(uuid, None)
        self.parties.pop(uuid, None)
        self.scripts.pop(uuid, None)
        self.behaviours.pop(uuid, None)
        self.active_recordings.pop(uuid, None)

    def media_params(self, ch: Channel) -> dict[str, str]:
        return {"media_port": str(self.rng.randint(16384, 32767)),
                "ssrc": str(self.rng.randint(10**8, 10**9)),
                "remote_media_port": "6000" if ch.direction == "inbound" else "6100"}

    async def place_call(self, destination: str, *, caller_number: str = "5551000",
                         caller_name: str = "Caller",
                         script: CallerScript | None = None, context: str = "public",
                         variables: dict[str, str] | None = None) -> EmulatedCall:
        """A caller dials ``destination``: the channel runs the dialplan like a sofia inbound call."""
        script = script or CallerScript()
        uuid = self.new_uuid()
        ch = factory.caller_channel(self, uuid, destination, context, caller_number, caller_name, variables)
        record = CallRecord(uuid, self.clock.elapsed, self.light_records)
        record.legs[uuid] = ch
        ch.records.append(record)
        self.scripts[uuid] = script
        self.parties[uuid] = Party(script.digits, script.first_digit_after_s, script.digit_gap_s, "caller")

        async def program(session: ChannelSession) -> None:
            ch.running_state, ch.state_number = "CS_INIT", 2
            ch.fire("CHANNEL_CREATE")
            ch.call_state = "RINGING"
            ch.set_running_state("CS_ROUTING")
            ch.set_running_state("CS_EXECUTE")
            await session.run_dialplan(destination, context)

        session = self._start_session(ch, program)
        call = EmulatedCall(self, session, record, script)
        self.calls.append(call)
        if script.abandon_after_s is not None:
            self.clock.call_later(script.abandon_after_s, self._abandon, ch)
        return call

    def _abandon(self, ch: Channel) -> None:
        """The caller gives up waiting (queue abandon) unless an agent has been reached."""
        if ch.up and not any(record.bridges for record in ch.records if record.uuid == ch.uuid):
            self.hangup(ch, "NORMAL_CLEARING" if ch.answered else "ORIGINATOR_CANCEL")

    def new_outbound_leg(self, leg: Leg, uuid: str, originator: ChannelSession | None,
                         exports: dict[str, str | None]) -> ChannelSession:
        ch = factory.agent_channel(self, leg, uuid, originator.ch if originator else None, exports)
        behaviour = self.endpoints.get(leg.endpoint) or self.endpoints.get(leg.endpoint.split("@", 1)[0])
        if behaviour is not None:
            self.behaviours[uuid] = behaviour
            self.parties[uuid] = Party(behaviour.wrapup_digits, behaviour.first_digit_after_s,
                                       behaviour.digit_gap_s, "agent")
        if originator is not None:
            for record in originator.ch.records:
                ch.records.append(record)
                record.legs[uuid] = ch
        return self.start_leg(ch, "CS_CONSUME_MEDIA")

    def start_leg(self, ch: Channel, state: str) -> ChannelSession:
        """A leg FreeSWITCH created itself (originate, loopback): its thread waits until the
        originator releases it with something to do (bridge, application, extension)."""
        ch.running_state, ch.state_number = "CS_INIT", 1
        ch.fire("CHANNEL_CREATE")
        if ch.direction == "outbound":
            ch.fire("CHANNEL_OUTGOING")
        ch.set_running_state(state)

        async def program(session: ChannelSession) -> None:
            await session.released.wait()
            if session.b_action is not None and ch.up:
                await session.b_action()
            if session.uuid_bridge_to is not None and ch.up:
                await session.join_uuid_bridge()

        return self._start_session(ch, program)

    # -- what happens to channels ------------------------------------------------------------------
    def answer(self, ch: Channel, *, early_media: bool = True) -> None:
        session = self.sessions.get(ch.uuid)
        partner = session.loopback_partner if session is not None else None
        if partner is not None and not ch.answered and ch.up:
            # A loopback pair answers together, the a-leg's CHANNEL_ANSWER first (07).
            partner.ch.mark_answered(self.media_params(partner.ch), early_media=False)
            early_media = False
        if ch.mark_answered(self.media_params(ch), early_media=early_media):
            script = self.scripts.get(ch.uuid)
            if script is not None and script.hangup_after_s is not None:
                self.clock.call_later(script.hangup_after_s, self._caller_hangs_up, ch)
            behaviour = self.behaviours.get(ch.uuid)
            if behaviour is not None and behaviour.talk_s is not None:
                self.clock.call_later(behaviour.talk_s, self._caller_hangs_up, ch)

    def _caller_hangs_up(self, ch: Channel) -> None:
        if ch.up:
            self.hangup(ch, "NORMAL_CLEARING", remote=True)

    def hangup(self, ch: Channel, cause: str = "NORMAL_CLEARING", *, remote: bool = True) -> None:
        session = self.sessions.get(ch.uuid)
        if ch.bridged_to is not None:
            ch.set_var("last_bridge_role", "originator" if ch.other_type == "originatee" else "originatee")
        if not ch.mark_hangup(cause, remote=remote):
            return
        recording.stop_all(self, ch)
        if session is not None:
            session.wake.set()
            if ch.bridged_to is not None:
                for conn in session.connections:
                    conn.channel_hanging_up()

    def transfer(self, session: ChannelSession, extension: str, context: str, *, kind: str = "bl_xfer",
                 interrupt: bool = True) -> None:
        factory.apply_transfer(self, session.ch, extension, context, kind)
        session.transfer_to = (extension, context)
        session.wake.set()
        if session.ch.bridged_to is not None:
            session.unbridge.set()
        if interrupt:
            session.interrupt()

    def on_app_start(self, session: ChannelSession, app: str) -> None:
        script = self.scripts.get(session.ch.uuid)
        if script is not None and script.hangup_during == app:
            asyncio.get_running_loop().call_soon(self._caller_hangs_up, session.ch)

    def person_keys(self, session: ChannelSession) -> None:
        """A collecting application starts a try: the person on this leg keys their next entry."""
        party = self.parties.get(session.ch.uuid)
        if party is None:
            return
        entry = party.next_entry()
        delay = party.first_digit_after_s
        for digit in entry:
            self.clock.call_later(delay, self.key, session.ch, digit)
            delay += party.digit_gap_s
        behaviour = self.behaviours.get(session.ch.uuid)
        if entry and behaviour is not None and behaviour.hangup_after_wrapup_s is not None:
            self.clock.call_later(delay + behaviour.hangup_after_wrapup_s, self._caller_hangs_up, session.ch)

    def key(self, ch: Channel, digit: str, duration: str = "960", source: str = "RTP") -> None:
        """A person presses a key on the phone (RFC 2833); or, with duration 2000 and source UNKNOWN,
        a digit that uuid_send_dtmf queued on the other leg of a loopback pair."""
        if not ch.up:
            return
        for record in ch.records:
            record.dtmf.append((self.clock.elapsed(), ch.uuid, digit))
        ch.dtmf_queue.put_nowait((digit, duration, source))
        ch.dtmf_arrived.set()

    def caller_audio_s(self, ch: Channel) -> float:
        script = self.scripts.get(ch.uuid)
        return script.audio_s if script is not None else 5.0

    def start_agent_timers(self, b: ChannelSession, a: ChannelSession) -> list[asyncio.TimerHandle]:
        behaviour = self.behaviours.get(b.ch.uuid)
        if behaviour is None:
            return []
        timers = []
        for at, keys in behaviour.hotkeys:
            timers.append(self.clock.call_later(at, self._hotkey, b, a, keys))
        return timers

    def _hotkey(self, b: ChannelSession, a: ChannelSession, keys: str) -> None:
        if not b.ch.up:
            return
        for digit in keys:
            for record in b.ch.records:
                record.dtmf.append((self.clock.elapsed(), b.ch.uuid, digit))
            b.ch.digits_dialed += digit
            b.ch.fire("DTMF", after=[("DTMF-Digit", digit), ("DTMF-Duration", "960"), ("DTMF-Source", "RTP")])
        if keys.startswith("*") and len(keys) > 1 and a.ch.bridged_to is b.ch:
            bridge.meta_pressed(self, a, keys[1:])

    def sendmsg_item(self, session: ChannelSession, cmd) -> QueuedExecute | None:  # type: ignore[no-untyped-def]
        """A sendmsg: executes are queued; ``hangup`` happens now; anything else is ignored (06c)."""
        command = (cmd.get("call-command") or "").lower()
        if command == "hangup":
            # After the +OK, like FreeSWITCH's session thread picking the message up (trace 02).
            cause = cmd.get("hangup-cause") or "NORMAL_CLEARING"
            asyncio.get_running_loop().call_soon(lambda: self.hangup(session.ch, cause, remote=False))
            return None
        if command != "execute":
            return None
        app = cmd.get("execute-app-name")
        if not app:
            return None
        arg = cmd.get("execute-app-arg") or ""
        if cmd.body and (cmd.get("content-type") or "").lower().startswith("text/plain"):
            arg = cmd.body.decode("utf-8", "replace")
        try:
            loops = int(cmd.get("loops") or 1)
        except ValueError:
            loops = 1
        return QueuedExecute(app, arg, cmd.get("Event-UUID"), loops)

    def link_hangups(self, a: ChannelSession, b: ChannelSession) -> None:
        """Loopback pairs: when one leg hangs up the other follows."""

        async def watch() -> None:
            waits = {asyncio.ensure_future(a.ch.hangup_event.wait()),
                     asyncio.ensure_future(b.ch.hangup_event.wait())}
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            for fut in waits:
                fut.cancel()
            for session in (a, b):
                if session.ch.up:
                    self.hangup(session.ch, (a.ch.hangup_cause or b.ch.hangup_cause or "NORMAL_CLEARING"),
                                remote=True)

        self.track(asyncio.ensure_future(watch()))
