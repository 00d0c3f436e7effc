"""What inbound and outbound ESL connections share: subscriptions, filters and the commands of
mod_event_socket's parse_command() that behave the same on both (event, nixevent, noevents, filter,
api, bgapi, log, sendmsg <uuid>, exit).

Replies and events go out through one ordered writer. While an ``api`` command runs the connection
holds its events back, as FreeSWITCH's listener thread does (it is busy inside api_exec), and a
static-mode execute holds them until its ``+OK`` (trace 06b).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import re
from typing import TYPE_CHECKING

from esl_apps.esl.protocol import (
    Command,
    CommandParser,
    RemoteProtocolError,
    api_response_bytes,
    command_reply_bytes,
    disconnect_notice_bytes,
    event_json_bytes,
    event_plain_bytes,
)
from esl_apps.sim.record import ReceivedCommand, WireMessage, light

if TYPE_CHECKING:
    from esl_apps.sim.channel import EmittedEvent
    from esl_apps.sim.emulator import Emulator
    from esl_apps.sim.record import CallRecord

log = logging.getLogger(__name__)

# switch_event_types_t names accepted by `event` (switch_name_event); anything else is ignored.
EVENT_NAMES = frozenset({
    "CUSTOM", "CLONE", "CHANNEL_CREATE", "CHANNEL_DESTROY", "CHANNEL_STATE", "CHANNEL_CALLSTATE",
    "CHANNEL_ANSWER", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "CHANNEL_EXECUTE",
    "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HOLD", "CHANNEL_UNHOLD", "CHANNEL_BRIDGE", "CHANNEL_UNBRIDGE",
    "CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA", "CHANNEL_OUTGOING", "CHANNEL_PARK", "CHANNEL_UNPARK",
    "CHANNEL_APPLICATION", "CHANNEL_ORIGINATE", "CHANNEL_UUID", "API", "LOG", "INBOUND_CHAN",
    "OUTBOUND_CHAN", "STARTUP", "SHUTDOWN", "PUBLISH", "UNPUBLISH", "TALK", "NOTALK", "SESSION_CRASH",
    "MODULE_LOAD", "MODULE_UNLOAD", "DTMF", "MESSAGE", "PRESENCE_IN", "NOTIFY_IN", "PRESENCE_OUT",
    "PRESENCE_PROBE", "MESSAGE_WAITING", "MESSAGE_QUERY", "ROSTER", "CODEC", "BACKGROUND_JOB",
    "DETECTED_SPEECH", "DETECTED_TONE", "PRIVATE_COMMAND", "HEARTBEAT", "TRAP", "ADD_SCHEDULE",
    "DEL_SCHEDULE", "EXE_SCHEDULE", "RE_SCHEDULE", "RELOADXML", "NOTIFY", "PHONE_FEATURE",
    "PHONE_FEATURE_SUBSCRIBE", "SEND_MESSAGE", "RECV_MESSAGE", "REQUEST_PARAMS", "CHANNEL_DATA", "GENERAL",
    "COMMAND", "SESSION_HEARTBEAT", "CLIENT_DISCONNECTED", "SERVER_DISCONNECTED", "SEND_INFO", "RECV_INFO",
    "RECV_RTCP_MESSAGE", "SEND_RTCP_MESSAGE", "CALL_SECURE", "NAT", "RECORD_START", "RECORD_STOP",
    "PLAYBACK_START", "PLAYBACK_STOP", "CALL_UPDATE", "FAILURE", "SOCKET_DATA", "MEDIA_BUG_START",
    "MEDIA_BUG_STOP", "CONFERENCE_DATA_QUERY", "CONFERENCE_DATA", "CALL_SETUP_REQ", "CALL_SETUP_RESULT",
    "CALL_DETAIL", "DEVICE_STATE", "TEXT", "SHUTDOWN_REQUESTED", "ALL"
})

MYEVENTS = frozenset({
    "CHANNEL_ANSWER", "CHANNEL_APPLICATION", "CHANNEL_BRIDGE", "CHANNEL_CREATE", "CHANNEL_DATA",
    "CHANNEL_DESTROY", "CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HANGUP",
    "CHANNEL_HANGUP_COMPLETE", "CHANNEL_ORIGINATE", "CHANNEL_UUID", "CHANNEL_OUTGOING", "CHANNEL_PARK",
    "CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA", "CHANNEL_STATE", "CHANNEL_UNBRIDGE", "CHANNEL_UNPARK",
    "DETECTED_SPEECH", "DTMF", "NOTALK", "TALK"
})

_conn_ids = itertools.count(1)


class EslConnection:
    """One accepted or established ESL TCP connection on the FreeSWITCH side."""

    def __init__(self, emu: Emulator, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.emu = emu
        self.reader = reader
        self.writer = writer
        self.id = next(_conn_ids)
        self.parser = CommandParser()
        self.events_on = False
        self.all_events = False
        self.event_list: set[str] = set()
        self.custom: set[str] = set()
        self.filters: list[tuple[str, str]] = []
        self.format = "plain"
        self.myevents_uuid: str | None = None
        self.scope: str | None = None  # the uuid the emulator's bus indexes this listener under
        self.owner_uuid: str | None = None  # Job-Owner-UUID of our bgapi jobs (outbound sessions)
        self.closed = False
        self.gone = False  # the peer closed its side
        self.gone_event = asyncio.Event()
        self._hold = 0
        self._held: list[tuple[bytes, WireMessage | None]] = []
        self.records: list[CallRecord] = []

    # -- output ------------------------------------------------------------------------------------
    def write(self, data: bytes, note: WireMessage | None = None, *, force: bool = False) -> None:
        if self.closed:
            return
        if self._hold and not force:
            self._held.append((data, note))
            return
        self._emit(data, note)

    def _emit(self, data: bytes, note: WireMessage | None) -> None:
        try:
            self.writer.write(data)
        except (ConnectionError, RuntimeError):
            self.gone = True
            return
        if note is not None:
            for record in self.records:
                record.wire.append(note)

    def hold(self) -> None:
        self._hold += 1

    def release(self) -> None:
        self._hold = max(0, self._hold - 1)
        if not self._hold:
            held, self._held = self._held, []
            for data, note in held:
                self._emit(data, note)

    def note(self, kind: str, name: str, headers: dict[str, str] | None = None) -> WireMessage:
        return WireMessage(self.emu.clock.elapsed(), self.id, kind, name, headers or {})

    def reply(self, text: str, extra: tuple[tuple[str, str], ...] = (), *, force: bool = False) -> None:
        self.write(command_reply_bytes(text, extra), self.note("reply", text), force=force)

    def api_reply(self, body: str) -> None:
        self.write(api_response_bytes(body), self.note("api", body), force=True)

    def disconnect(self, uuid: str | None = None) -> None:
        disposition = "disconnect" if uuid else None
        self.write(disconnect_notice_bytes(disposition, uuid), self.note("disconnect", "disconnect"),
                   force=True)

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.emu.bus_unsubscribe(self)
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.writer.drain()
        self.writer.close()
        with contextlib.suppress(ConnectionError, RuntimeError, OSError):
            await self.writer.wait_closed()

    # -- events ------------------------------------------------------------------------------------
    def wants(self, event: EmittedEvent) -> bool:
        """event_handler() in mod_event_socket.c: type, CUSTOM subclass, filters, then myevents."""
        if not self.events_on or self.closed:
            return False
        if not self.all_events:
            if event.name not in self.event_list:
                return False
            if event.name == "CUSTOM" and event.subclass and event.subclass not in self.custom:
                return False
        if self.filters and not self._filters_pass(event):
            return False
        if self.myevents_uuid is not None:
            if event.name == "BACKGROUND_JOB" and event.get("Job-Owner-UUID") == self.myevents_uuid:
                return True
            if event.uuid != self.myevents_uuid:
                return False
        return True

    def _filters_pass(self, event: EmittedEvent) -> bool:
        send = False
        for name, raw in self.filters:
            value = event.get(name)
            if value is None:
                continue
            comp = raw
            positive = True
            while comp and comp[0] in "+- ":
                if comp[0] == "+":
                    positive = True
                elif comp[0] == "-":
                    positive = False
                comp = comp[1:]
            if send and positive:
                continue
            if raw.startswith("/"):
                pattern = comp.strip("/")
                matched = re.search(pattern, value) is not None
            else:
                matched = value.lower() == comp.lower()
            if matched:
                if positive:
                    send = True
                else:
                    return False
        return send

    def deliver(self, event: EmittedEvent) -> None:
        if not self.wants(event):
            return
        if self.format == "json":
            data = event_json_bytes(event.headers, event.body)
        else:
            data = event_plain_bytes(event.headers, event.body)
        note = None
        if self.records:
            headers = dict(event.headers)
            note = self.note("event", event.name, light(headers) if self.emu.light_records else headers)
        self.write(data, note)

    # -- input -------------------------------------------------------------------------------------
    async def read_commands(self) -> None:
        """Feed the parser and handle each command in order until the peer closes."""
        try:
            while not self.closed:
                data = await self.reader.read(65536)
                if not data:
                    break
                try:
                    commands = self.parser.feed(data)
                except RemoteProtocolError as exc:
                    log.warning("malformed ESL input on connection %s: %s", self.id, exc)
                    break
                for cmd in commands:
                    for record in self.records:
                        record.commands.append(ReceivedCommand(self.emu.clock.elapsed(), self.id, cmd))
                    keep_going = await self.handle(cmd)
                    try:
                        await self.writer.drain()
                    except (ConnectionError, RuntimeError):
                        self.gone = True
                        return
                    if not keep_going:
                        return
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.gone = True
            self.gone_event.set()

    async def handle(self, cmd: Command) -> bool:  # pragma: no cover - overridden
        raise NotImplementedError

    # -- commands both sides share -----------------------------------------------------------------
    async def handle_common(self, cmd: Command, *, session_uuid: str | None) -> bool | None:
        """True/False: handled (False = close); None: not a shared command."""
        name = cmd.name
        if name == "exit" or name.startswith("..."):
            self.reply("+OK bye", force=True)
            self.disconnect(session_uuid)
            await self.close()
            return False
        if name == "filter" and cmd.args:
            self.reply(self._filter(cmd.args))
            return True
        if name == "api" and cmd.args:
            self.hold()
            try:
                body = await self.emu.api.execute(cmd.args, self)
            finally:
                self.api_reply(body)
                self.release()
            return True
        if name == "bgapi" and cmd.args:
            job = cmd.get("Job-UUID") or self.emu.new_uuid()
            self.reply(f"+OK Job-UUID: {job}", (("Job-UUID", job),))
            self.emu.api.background(cmd.args, job, self.owner_uuid, self)
            return True
        if name.startswith("nixevent"):
            self.reply(self._nixevent(cmd.args))
            return True
        if name.startswith("noevents"):
            if self.events_on:
                self.events_on = False
                self.all_events = False
                self.event_list.clear()
                self.custom.clear()
                self.reply("+OK no longer listening for events")
            else:
                self.reply("-ERR not listening for events")
            return True
        if name.startswith("event"):
            self.reply(self._event(cmd.args))
            return True
        if name == "log":
            level = cmd.args.split(" ")[0] if cmd.args else "debug"
            levels = {"console": 0, "alert": 1, "crit": 2, "err": 3, "warning": 4, "notice": 5, "info": 6,
                      "debug": 7}
            if level.lower() in levels or level.isdigit():
                number = levels.get(level.lower(), int(level) if level.isdigit() else 7)
                self.reply(f"+OK log level {level} [{number}]")
            else:
                self.reply("-ERR invalid log level")
            return True
        if name == "nolog":
            self.reply("-ERR not loging")
            return True
        if name == "sendevent":
            self.reply(self._sendevent(cmd))
            return True
        return None

    def _sendevent(self, cmd: Command) -> str:
        """sendevent NAME + headers (+ body): fired as it is, with an Event-UUID added."""
        from esl_apps.sim.channel import EmittedEvent, core_headers

        event_uuid = self.emu.new_uuid()
        name = (cmd.args.strip() or "CUSTOM").upper()
        name = name if name in EVENT_NAMES and name != "ALL" else "CUSTOM"
        headers = core_headers(name, self.emu.core_uuid, self.emu.clock.uepoch(), self.emu.next_sequence())
        given = [(k, v) for k, v in cmd.headers.items() if k.lower() not in ("content-length", "event-name")]
        headers += [*given, ("Event-UUID", event_uuid)]
        subclass = cmd.get("Event-Subclass")
        body = cmd.body.decode("utf-8", "replace") if cmd.body else None
        self.emu.publish(EmittedEvent(name, tuple(headers), body, subclass, cmd.get("Unique-ID")))
        return f"+OK {event_uuid}"

    def _filter(self, args: str) -> str:
        header, _, value = args.strip(" ").partition(" ")
        if header.lower() == "delete" and value:
            header, _, val = value.partition(" ")
            if header.lower() == "all":
                self.filters.clear()
            else:
                self.filters = [(h, v) for h, v in self.filters
                                if not (h == header and (not val or v == val))]
            return f"+OK filter deleted. [{header}][{val}]"
        if value:
            if header.lower() == "add":
                header, _, value = value.partition(" ")
            self.filters.append((header, value))
            return f"+OK filter added. [{header}]=[{value}]"
        return "-ERR invalid syntax"

    def _event(self, args: str) -> str:
        words = [w for w in args.split(" ") if w]
        keys = 0
        custom = False
        for index, word in enumerate(words):
            if index == 0 and word.lower() in ("plain", "json", "xml"):
                self.format = word.lower()
                continue
            if custom:
                self.custom.add(word)
            elif word.upper() in EVENT_NAMES:
                keys += 1
                upper = word.upper()
                if upper == "ALL":
                    self.all_events = True
                self.event_list.add(upper)
                if upper == "CUSTOM":
                    custom = True
        if not keys:
            return "-ERR no keywords supplied"
        self.events_on = True
        return f"+OK event listener enabled {self.format}"

    def _nixevent(self, args: str) -> str:
        keys = 0
        custom = False
        for word in [w for w in args.split(" ") if w]:
            if custom:
                self.custom.discard(word)
            elif word.upper() in EVENT_NAMES:
                keys += 1
                upper = word.upper()
                if upper == "CUSTOM":
                    custom = True
                elif upper == "ALL":
                    self.all_events = False
                    self.event_list.clear()
                else:
                    if self.all_events:
                        self.all_events = False
                        self.event_list = set(EVENT_NAMES) - {"ALL"}
                    self.event_list.discard(upper)
        if not keys:
            return "-ERR no keywords supplied"
        self.events_on = True
        return "+OK events nixed"
