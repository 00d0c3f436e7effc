"""Everything observable about one emulated call, for tests and ``esl-apps simulate`` to assert on.

Times are emulated seconds since the emulator started. The record covers the caller's leg and every
leg created for it (agent legs of its bridges), so a test can follow a call from the IVR to the
agent's wrap-up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from esl_apps.sim.channel import Channel, EmittedEvent


@dataclass
class RecordedEvent:
    t: float
    leg: str  # Unique-ID of the channel that fired it
    name: str
    headers: dict[str, str]

    def get(self, name: str) -> str | None:
        return self.headers.get(name)


@dataclass
class WireMessage:
    """One message the emulator wrote on an ESL connection of this call."""

    t: float
    conn: int
    kind: str  # reply | api | event | disconnect | connect
    name: str  # Event-Name, Reply-Text, api body, or Content-Disposition
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class ReceivedCommand:
    t: float
    conn: int
    command: Any  # esl_apps.esl.protocol.Command


@dataclass
class AppRun:
    leg: str
    app: str
    arg: str
    via: str  # dialplan | socket | inline | after_bridge
    start: float
    end: float | None = None
    response: str | None = None


@dataclass
class RingAttempt:
    endpoint: str
    uuid: str
    start: float
    end: float | None = None
    outcome: str = "ringing"  # answered | no_answer | busy | rejected | unregistered | cancelled | lose_race
    call_uuid: str | None = None  # the caller's leg that rang this agent (None: originate)
    picked_up_unconfirmed: bool = False  # answered, never pressed group_confirm_key (voicemail)


@dataclass
class Recording:
    path: str
    leg: str
    start: float
    stop: float | None = None
    masks: list[list[float | None]] = field(default_factory=list)  # [start, end] per masked span
    kind: str = "record_session"  # or voicemail


@dataclass
class BridgeSpan:
    endpoint: str
    other_uuid: str
    start: float
    end: float | None = None
    ended_by: str | None = None  # caller | agent


@dataclass
class SocketAttempt:
    leg: str
    address: str
    t: float
    connected: bool = False  # TCP connection established
    refused: bool = False
    handshake: bool = False  # the application sent `connect`
    closed_by_app: bool = False
    exited: bool = False
    ended: float | None = None  # when the socket application returned


# What a light record keeps of each event (Emulator(light_records=True), for load runs).
LIGHT_HEADERS = frozenset({
    "Event-Name", "Unique-ID", "Application", "Application-Data", "Application-Response", "Application-UUID",
    "Answer-State", "Hangup-Cause", "Channel-State", "DTMF-Digit", "Other-Leg-Unique-ID",
    "Other-Leg-Destination-Number", "Record-File-Path", "Event-Subclass",
})


def light(headers: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k in LIGHT_HEADERS}


class CallRecord:
    def __init__(self, uuid: str, clock_elapsed, light_records: bool = False) -> None:  # type: ignore[no-untyped-def]
        self.uuid = uuid
        self.light = light_records
        self._elapsed = clock_elapsed
        self.events: list[RecordedEvent] = []
        self.wire: list[WireMessage] = []
        self.commands: list[ReceivedCommand] = []
        self.apps: list[AppRun] = []
        self.dtmf: list[tuple[float, str, str]] = []  # (t, leg, digit) keyed by a person
        self.ring_attempts: list[RingAttempt] = []
        self.recordings: list[Recording] = []
        self.bridges: list[BridgeSpan] = []
        self.sockets: list[SocketAttempt] = []
        self.fallback_actions: list[tuple[str, str]] = []
        self.legs: dict[str, Channel] = {}
        self.hangup_cause: str | None = None
        self.variables: dict[str, str] = {}  # the caller leg's variables, kept up to date

    def now(self) -> float:
        return float(self._elapsed())

    def on_event(self, channel: Channel, event: EmittedEvent) -> None:
        headers = dict(event.headers)
        kept = light(headers) if self.light else headers
        self.events.append(RecordedEvent(self.now(), channel.uuid, event.name, kept))
        if channel.uuid == self.uuid:
            self.variables = dict(channel.vars)
            if channel.hangup_cause:
                self.hangup_cause = channel.hangup_cause

    # -- convenience for tests ---------------------------------------------------------------------
    def event_names(self, leg: str | None = None) -> list[str]:
        leg = self.uuid if leg is None else leg
        return [e.name for e in self.events if e.leg == leg]

    def app_names(self, leg: str | None = None) -> list[str]:
        leg = self.uuid if leg is None else leg
        return [a.app for a in self.apps if a.leg == leg]

    def last_event(self, name: str, application: str | None = None) -> RecordedEvent | None:
        for event in reversed(self.events):
            if event.name == name and (application is None or event.get("Application") == application):
                return event
        return None

    def agent_legs(self) -> list[str]:
        return [uuid for uuid in self.legs if uuid != self.uuid]
