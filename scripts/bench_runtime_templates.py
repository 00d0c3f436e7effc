"""Real FreeSWITCH messages for the runtime load generator, cut from the recorded traces.

Every event the generator sends is a message FreeSWITCH 1.11 sent in tests/fixtures/esl-traces/ (the full
header set, ~100-200 URL-encoded headers, 2-12 KB), parsed with the project's EslParser and serialised
back with esl_apps.esl.protocol (byte-identical to the trace). Only what differs per call is swapped in:
the channel uuid (every occurrence: Unique-ID, Channel-Call-UUID, variable_uuid, ...), Application-UUID
(the app's Event-UUID, or one the switch makes up, as FreeSWITCH does), Application-Data, for the generic
template the application name, and for play_and_get_digits the variable it fills and the digits keyed
(the DTMF events and `variable_<var>` of its EXECUTE_COMPLETE). The dialled number and the caller's number
can be changed for a whole run (load(did=..., caller=...)). Templates are pre-split around those
placeholders, so building a 6 KB event costs one bytes.join, which keeps one generator core ahead of
200 calls/s.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from esl_apps.esl.protocol import (
    CommandReply,
    EslParser,
    Event,
    connect_reply_bytes,
    serialize_event_plain,
    url_encode,
)
from esl_apps.esl.tracefile import TraceSection, read_trace

TRACES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "esl-traces"

UUID = "QQCHANUUIDQQ"
APP_UUID = "QQAPPUUIDQQ"
APP_DATA = "QQAPPDATAQQ"
APP_NAME = "QQAPPNAMEQQ"
VAR_NAME = "QQVARNAMEQQ"
DIGITS = "QQDIGITSQQ"
_SLOTS = {UUID: 0, APP_UUID: 1, APP_DATA: 2, APP_NAME: 3, VAR_NAME: 4, DIGITS: 5}
_SPLIT = re.compile(rb"(QQ(?:CHANUUID|APPUUID|APPDATA|APPNAME|VARNAME|DIGITS)QQ)")
TRACE_DID = "7100"  # what the recorded caller dialled ...
TRACE_CALLER = "5551000"  # ... and from where
TRACE_VAR, TRACE_DIGITS = "ivr_choice", "12"  # trace 02: play_and_get_digits filled ivr_choice with 12


class Template:
    """One message with placeholders; render() fills them (values already wire-encoded)."""

    __slots__ = ("_parts", "envelope", "name")

    def __init__(self, name: str, payload: bytes, envelope: bool) -> None:
        self.name = name
        self.envelope = envelope
        parts: list[bytes | int] = []
        for i, piece in enumerate(_SPLIT.split(payload)):
            parts.append(_SLOTS[piece.decode()] if i % 2 else piece)
        self._parts = tuple(parts)

    def render(self, values: tuple[bytes, ...]) -> bytes:
        payload = b"".join(p if type(p) is bytes else values[p] for p in self._parts)  # type: ignore[index]
        if not self.envelope:
            return payload
        return b"Content-Length: %d\nContent-Type: text/event-plain\n\n%b" % (len(payload), payload)


def _events(section: TraceSection) -> list[Event]:
    out = []
    for entry in section.messages("received"):
        for message in EslParser().feed(entry.data):
            if isinstance(message, Event):
                out.append(message)
    return out


def _number(value: str, old: str, new: str | None) -> str:
    """The dialled / calling number inside SIP-ish values (`7100`, `7100@host`, `sip:7100@`, `/7100@`)."""
    if new is None or old not in value:
        return value
    if value == old:
        return new
    for before, after in ((":", "@"), ("/", "@"), ("", "@")):
        value = value.replace(f"{before}{old}{after}", f"{before}{new}{after}")
    return value


@dataclass(frozen=True)
class Numbers:
    did: str | None = None
    caller: str | None = None

    def apply(self, value: str) -> str:
        return _number(_number(value, TRACE_DID, self.did), TRACE_CALLER, self.caller)


def _placeholders(
    pairs: list[tuple[str, str]], uuid: str, generic: bool, digits: bool, numbers: Numbers
) -> list[tuple[str, str]]:
    out = []
    app = dict(pairs).get("Application")
    for name, value in pairs:
        value = numbers.apply(value)
        if uuid in value:
            value = value.replace(uuid, UUID)
        if name == "Application-UUID":
            value = APP_UUID
        elif name == "Application-Data":
            value = APP_DATA
        elif generic and app and name in ("Application", "variable_current_application") and value == app:
            value = APP_NAME
        elif digits and name == "DTMF-Digit":
            value = DIGITS
        elif digits and name == f"variable_{TRACE_VAR}" and value == TRACE_DIGITS:
            name, value = f"variable_{VAR_NAME}", DIGITS
        out.append((name, value))
    return out


def event_template(
    event: Event, *, generic: bool = False, digits: bool = False, numbers: Numbers = Numbers()
) -> Template:
    uuid = event.headers["Unique-ID"]
    label = event.name + (f" {event.get('Application')}" if event.get("Application") else "")
    pairs = _placeholders(event.header_items(), uuid, generic, digits, numbers)
    return Template(label, serialize_event_plain(pairs, event.body), envelope=True)


def _find(events: list[Event], name: str, app: str | None = None, digit: str | None = None) -> Event:
    for event in events:
        if event.name != name:
            continue
        if app is not None and event.get("Application") != app:
            continue
        if digit is not None and event.get("DTMF-Digit") != digit:
            continue
        return event
    raise LookupError(f"no {name} {app or ''}{digit or ''} in the trace section")


@dataclass(frozen=True)
class Templates:
    """The message sets the generator plays back, by what the application asked for."""

    connect_reply: Template
    channel_name: str
    park: Template
    answer: tuple[Template, ...]  # EXECUTE, PROGRESS_MEDIA, ANSWER, EXECUTE_COMPLETE
    playback: tuple[Template, Template]
    collect: tuple[Template, Template]  # EXECUTE, EXECUTE_COMPLETE (<var>=<digits>, read_result=success)
    dtmf: Template  # one key, DIGITS slot
    set_: tuple[Template, Template]
    generic: tuple[Template, Template]  # any other application: EXECUTE, EXECUTE_COMPLETE
    bridge: tuple[Template, ...]  # EXECUTE, BRIDGE, UNBRIDGE, EXECUTE_COMPLETE
    hangup_app: tuple[Template, ...]  # EXECUTE hangup ... HANGUP_COMPLETE (trace 03c, agent hangs up)
    hangup_command: tuple[Template, ...]  # sendmsg call-command: hangup (trace 02) ... HANGUP_COMPLETE
    record_start: tuple[Template, ...]  # record_session: EXECUTE, RECORD_START, EXECUTE_COMPLETE (trace 05)
    record_stop: tuple[Template, ...]  # stop_record_session: EXECUTE, RECORD_STOP, EXECUTE_COMPLETE


def load(trace_dir: Path = TRACES, *, did: str | None = None, caller: str | None = None) -> Templates:
    """Templates from the traces; `did` / `caller` replace the recorded 7100 / 5551000 everywhere."""
    numbers = Numbers(did, caller)
    t02 = read_trace(trace_dir / "02-outbound-dtmf.txt")[0]  # digits 1 2 #
    t03a = read_trace(trace_dir / "03a-outbound-bridge-noanswer.txt")[1]  # set continue_on_fail
    c03 = read_trace(trace_dir / "03c-outbound-bridge-answer.txt")
    t03c1, t03c2 = c03[0], c03[1]  # caller hangs up (has CHANNEL_PARK); agent hangs up, app goes on
    t05 = read_trace(trace_dir / "05-recording.txt")[0]
    connect = EslParser().feed(t03c2.messages("received")[0].data)[0]
    assert isinstance(connect, CommandReply)
    channel = [
        (k, v) for k, v in connect.headers.items()
        if k not in ("Content-Type", "Reply-Text", "Socket-Mode", "Control")
    ]
    uuid = connect.headers["Unique-ID"]
    channel = [(k, numbers.apply(v).replace(uuid, UUID)) for k, v in channel]
    e02, e03a, e03c1, e03c2 = _events(t02), _events(t03a), _events(t03c1), _events(t03c2)
    e05 = _events(t05)
    f = _find

    def each(events: list[Event], **kw: bool) -> tuple[Template, ...]:
        return tuple(event_template(e, numbers=numbers, **kw) for e in events)
    answer = [f(e03c2, "CHANNEL_EXECUTE", "answer"), f(e03c2, "CHANNEL_PROGRESS_MEDIA"),
              f(e03c2, "CHANNEL_ANSWER"), f(e03c2, "CHANNEL_EXECUTE_COMPLETE", "answer")]
    bridge = [f(e03c2, "CHANNEL_EXECUTE", "bridge"), f(e03c2, "CHANNEL_BRIDGE"),
              f(e03c2, "CHANNEL_UNBRIDGE"), f(e03c2, "CHANNEL_EXECUTE_COMPLETE", "bridge")]
    start = e03c2.index(f(e03c2, "CHANNEL_EXECUTE", "hangup"))
    hangup_app = e03c2[start:]
    start = e02.index(f(e02, "CHANNEL_HANGUP"))
    hangup_command = e02[start:]
    assert hangup_app[-1].name == hangup_command[-1].name == "CHANNEL_HANGUP_COMPLETE"
    recording = [f(e05, "CHANNEL_EXECUTE", "record_session"), f(e05, "RECORD_START"),
                 f(e05, "CHANNEL_EXECUTE_COMPLETE", "record_session"),
                 f(e05, "CHANNEL_EXECUTE", "stop_record_session"), f(e05, "RECORD_STOP"),
                 f(e05, "CHANNEL_EXECUTE_COMPLETE", "stop_record_session")]
    collect = [f(e02, "CHANNEL_EXECUTE", "play_and_get_digits"),
               f(e02, "CHANNEL_EXECUTE_COMPLETE", "play_and_get_digits")]
    playback = [f(e03c2, "CHANNEL_EXECUTE", "playback"), f(e03c2, "CHANNEL_EXECUTE_COMPLETE", "playback")]
    set_ = [f(e03a, "CHANNEL_EXECUTE", "set"), f(e03a, "CHANNEL_EXECUTE_COMPLETE", "set")]
    return Templates(
        connect_reply=Template("connect reply", connect_reply_bytes(channel), envelope=False),
        channel_name=numbers.apply(connect.headers["Channel-Name"]),
        park=each([f(e03c1, "CHANNEL_PARK")])[0],
        answer=each(answer),
        playback=each(playback),  # type: ignore[arg-type]
        collect=each(collect, digits=True),  # type: ignore[arg-type]
        dtmf=each([f(e02, "DTMF", digit="1")], digits=True)[0],
        set_=each(set_),  # type: ignore[arg-type]
        generic=each(set_, generic=True),  # type: ignore[arg-type]
        bridge=each(bridge),
        hangup_app=each(hangup_app),
        hangup_command=each(hangup_command),
        record_start=each(recording[:3]),
        record_stop=each(recording[3:]),
    )


def values(
    uuid: str, app_uuid: str = "", app_data: str = "", app_name: str = "", var_name: str = TRACE_VAR,
    digits: str = TRACE_DIGITS,
) -> tuple[bytes, ...]:
    """Placeholder values as they go on the wire (URL-encoded like every event header value)."""
    return (uuid.encode(), app_uuid.encode(), url_encode(app_data or "_undef_").encode(),
            url_encode(app_name).encode(), var_name.encode(), url_encode(digits).encode())
