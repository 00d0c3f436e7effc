"""One emulated FreeSWITCH channel: its state, caller profile and variables, and the events it fires.

The header layout follows switch_channel_event_set_basic_data / _extended_data (switch_channel.c)
as the recorded traces show it: core headers, channel state, Answer-State, Hangup-Cause, codecs,
``Caller-*``, ``Other-Leg-*``, then ``variable_*`` for the event types that carry variables.
Variables keep FreeSWITCH's order: setting one removes it and appends it at the bottom.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from esl_apps.sim import templates as T

if TYPE_CHECKING:
    from esl_apps.sim.record import CallRecord

Headers = list[tuple[str, str]]

# Event types whose headers include the channel variables (switch_channel_event_set_extended_data).
VARIABLE_EVENTS = frozenset({
    "CHANNEL_CREATE", "CHANNEL_ORIGINATE", "CHANNEL_UUID", "CHANNEL_ANSWER", "CHANNEL_PARK",
    "CHANNEL_UNPARK", "CHANNEL_BRIDGE", "CHANNEL_UNBRIDGE", "CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA",
    "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "CHANNEL_DATA", "CHANNEL_EXECUTE",
    "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_DESTROY", "RECORD_START", "RECORD_STOP", "PLAYBACK_START",
    "PLAYBACK_STOP", "CUSTOM",
})


@dataclass(frozen=True, slots=True)
class EmittedEvent:
    """An event as FreeSWITCH fires it; values are decoded (the serializer URL-encodes them)."""

    name: str
    headers: tuple[tuple[str, str], ...]
    body: str | None = None
    subclass: str | None = None
    uuid: str | None = None

    def get(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def mapping(self) -> dict[str, str]:
        return dict(self.headers)


def gmt_date(epoch: float) -> str:
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(epoch))


def local_date(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(epoch))


def rfc2822_date(epoch: float) -> str:
    return time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(epoch))


def core_headers(name: str, core_uuid: str, epoch_u: int, sequence: int,
                 calling: tuple[str, str, str] | None = None) -> Headers:
    """The headers every FreeSWITCH event starts with (PROTOCOL.md "First headers")."""
    epoch = epoch_u / 1_000_000
    file, func, line = calling or T.CALLING.get(name, ("switch_event.c", "switch_event_fire", "0"))
    return [
        ("Event-Name", name), ("Core-UUID", core_uuid), ("FreeSWITCH-Hostname", T.HOSTNAME),
        ("FreeSWITCH-Switchname", T.HOSTNAME), ("FreeSWITCH-IPv4", T.HOST_IP), ("FreeSWITCH-IPv6", T.HOST_IP),
        ("Event-Date-Local", local_date(epoch)), ("Event-Date-GMT", gmt_date(epoch)),
        ("Event-Date-Timestamp", str(epoch_u)), ("Event-Calling-File", file),
        ("Event-Calling-Function", func), ("Event-Calling-Line-Number", line),
        ("Event-Sequence", str(sequence)),
    ]


class Channel:
    """State of one leg; every event it fires goes through ``publish`` (the emulator's event bus)."""

    def __init__(
        self,
        *,
        uuid: str,
        name: str,
        direction: str,
        profile: dict[str, str],
        publish: Callable[[EmittedEvent], None],
        now_uepoch: Callable[[], int],
        core_uuid: str,
        next_sequence: Callable[[], int],
    ) -> None:
        self.uuid = uuid
        self.name = name
        self.direction = direction
        self.profile = profile  # Caller-* fields by their PROFILE_FIELDS name
        self.vars: dict[str, str] = {}
        self.running_state = "CS_NEW"
        self.state_number = 0
        self.call_state = "DOWN"
        self.answered = False
        self.early = False
        self.hangup_cause: str | None = None
        self.media = False
        self.other: Channel | None = None
        self.other_type: str | None = None
        self.other_profile: dict[str, str] | None = None
        self.bridged_to: Channel | None = None
        self.hit_dialplan = direction == "inbound"
        self.created_uepoch = now_uepoch()
        self.hangup_uepoch = 0
        self._publish = publish
        self._now = now_uepoch
        self._core_uuid = core_uuid
        self._next_sequence = next_sequence
        self.hangup_event = asyncio.Event()
        self.done_event = asyncio.Event()
        self.answered_event = asyncio.Event()
        self.records: list[CallRecord] = []
        self.break_event = asyncio.Event()  # uuid_break / socket resume interrupting media
        # (digit, DTMF-Duration, DTMF-Source): the event is fired when a reader dequeues the digit
        self.dtmf_queue: asyncio.Queue[tuple[str, str, str]] = asyncio.Queue()
        self.dtmf_arrived = asyncio.Event()
        self.digits_dialed = ""
        self.listeners: list[Callable[[EmittedEvent], None]] = []

    # -- variables ---------------------------------------------------------------------------------
    def set_var(self, name: str, value: str | None) -> None:
        self.vars.pop(name, None)
        if value is not None:
            self.vars[name] = value

    def set_vars(self, pairs: Iterable[tuple[str, str | None]]) -> None:
        for name, value in pairs:
            self.set_var(name, value)

    def get_var(self, name: str) -> str | None:
        return self.vars.get(name)

    def expand(self, text: str) -> str:
        """``${var}`` expansion as switch_channel_expand_variables does for application data."""
        if "${" not in text:
            return text
        out: list[str] = []
        i = 0
        while i < len(text):
            start = text.find("${", i)
            if start < 0:
                out.append(text[i:])
                break
            end = text.find("}", start)
            if end < 0:
                out.append(text[i:])
                break
            out.append(text[i:start])
            out.append(self.vars.get(text[start + 2 : end], ""))
            i = end + 1
        return "".join(out)

    @property
    def up(self) -> bool:
        return self.hangup_cause is None

    @property
    def answer_state(self) -> str:
        if self.hangup_cause is not None:
            return "hangup"
        if self.answered:
            return "answered"
        if self.early:
            return "early"
        return "ringing"

    # -- headers -----------------------------------------------------------------------------------
    def core_headers(self, name: str, calling: tuple[str, str, str] | None = None) -> Headers:
        return core_headers(name, self._core_uuid, self._now(), self._next_sequence(), calling)

    def profile_headers(self, prefix: str, profile: dict[str, str] | None = None,
                        skip: frozenset[str] = frozenset()) -> Headers:
        source = self.profile if profile is None else profile
        out: Headers = []
        for key in T.PROFILE_FIELDS:
            if key in skip:
                continue
            value = source.get(key)
            if value is None:
                if key in T.OPTIONAL_PROFILE_FIELDS:
                    continue
                value = ""
            out.append((f"{prefix}-{key}", value))
        return out

    def basic_headers(self) -> Headers:
        out: Headers = [
            ("Channel-State", self.running_state), ("Channel-Call-State", self.call_state),
            ("Channel-State-Number", str(self.state_number)), ("Channel-Name", self.name),
            ("Unique-ID", self.uuid), ("Call-Direction", self.direction),
            ("Presence-Call-Direction", self.direction),
            ("Channel-HIT-Dialplan", "true" if self.hit_dialplan else "false"),
            ("Channel-Call-UUID", self.vars.get("call_uuid", self.uuid)),
            ("Answer-State", self.answer_state),
        ]
        if self.hangup_cause:
            out.append(("Hangup-Cause", self.hangup_cause))
        if self.media:
            out.extend(T.CODEC_HEADERS)
        out.extend(self.profile_headers("Caller"))
        if self.other_profile is not None and self.other_type:
            out.append(("Other-Type", self.other_type))
            out.extend(self.profile_headers("Other-Leg", self.other_profile, T.OTHER_LEG_SKIP))
        return out

    def variable_headers(self) -> Headers:
        return [(f"variable_{k}", v) for k, v in self.vars.items()]

    def build(self, name: str, *, before: Sequence[tuple[str, str]] = (),
              after: Sequence[tuple[str, str]] = (), calling: tuple[str, str, str] | None = None,
              subclass: str | None = None, variables: bool | None = None) -> Headers:
        headers: Headers = []
        if subclass:
            headers.append(("Event-Subclass", subclass))
        headers.extend(self.core_headers(name, calling))
        headers.extend(before)
        headers.extend(self.basic_headers())
        with_vars = name in VARIABLE_EVENTS if variables is None else variables
        if with_vars:
            headers.extend(self.variable_headers())
        headers.extend(after)
        return headers

    def fire(self, name: str, *, before: Sequence[tuple[str, str]] = (),
             after: Sequence[tuple[str, str]] = (), body: str | None = None,
             calling: tuple[str, str, str] | None = None, subclass: str | None = None,
             variables: bool | None = None) -> EmittedEvent:
        headers = self.build(name, before=before, after=after, calling=calling, subclass=subclass,
                             variables=variables)
        event = EmittedEvent(name, tuple(headers), body, subclass, self.uuid)
        for record in self.records:
            record.on_event(self, event)
        for listener in list(self.listeners):
            listener(event)
        self._publish(event)
        return event

    def channel_data_headers(self) -> Headers:
        """The CHANNEL_DATA block of an outbound ``connect`` reply (profile repeated as Channel-*)."""
        headers = self.core_headers("CHANNEL_DATA")
        headers.extend(self.profile_headers("Channel"))
        headers.extend(self.basic_headers())
        headers.extend(self.variable_headers())
        return headers

    # -- state changes -----------------------------------------------------------------------------
    def set_running_state(self, state: str, *, fire: bool = True) -> None:
        self.running_state = state
        if state == "CS_ROUTING" and self.up:
            self.call_state = "RINGING"  # a (re)routed channel rings again (trace 08, after transfer)
        elif state == "CS_EXECUTE" and self.up and self.answered:
            self.call_state = "ACTIVE"
        if state not in ("CS_HANGUP", "CS_REPORTING", "CS_DESTROY") or self.state_number < 10:
            self.state_number = T.STATE_NUMBERS[state]
        if state == "CS_REPORTING":
            self.call_state = "HANGUP"
            self.state_number = T.STATE_NUMBERS[state]
        if fire:
            self.fire("CHANNEL_STATE")

    def stamp(self, field_name: str) -> None:
        self.profile[field_name] = str(self._now())

    def pre_answer(self, media_params: dict[str, str]) -> None:
        """Early media: codecs negotiated, CHANNEL_PROGRESS_MEDIA (trace 01's answer does this first)."""
        if self.early or self.answered:
            return
        self.media = True
        if self.direction == "inbound":
            self.set_var("rtp_use_codec_string", self.vars.get("rtp_use_codec_string", "PCMU"))
        self.set_vars(T.media_vars(media_params))
        self.set_var("endpoint_disposition", "EARLY MEDIA")
        self.early = True
        self.stamp("Channel-Progress-Media-Time")
        self.fire("CHANNEL_PROGRESS_MEDIA")
        self.call_state = "EARLY"

    def mark_answered(self, media_params: dict[str, str], *, early_media: bool = True) -> bool:
        if self.answered or not self.up:
            return False
        if early_media:
            self.pre_answer(media_params)
        else:
            self.media = True
        self.answered = True
        self.answered_event.set()
        self.stamp("Channel-Answered-Time")
        self.set_var("rtp_local_sdp_str", T.SDP_LOCAL.format(
            sess=media_params["ssrc"], ver=media_params["ssrc"], port=media_params["media_port"]))
        self.fire("CHANNEL_ANSWER")
        self.call_state = "ACTIVE"
        self.early = True
        self.set_var("endpoint_disposition", "ANSWER")
        return True

    def mark_hangup(self, cause: str, *, remote: bool) -> bool:
        """Hang up: CHANNEL_HANGUP now; the teardown events follow when the channel thread ends."""
        if not self.up:
            return False
        self.hangup_cause = cause
        self.state_number = T.STATE_NUMBERS["CS_HANGUP"]
        if self.direction == "inbound" or self.vars.get("sip_call_id"):
            status = "200" if cause == "NORMAL_CLEARING" else T.SIP_STATUS.get(cause, "")
            if status and self.answered:
                self.set_vars([("sip_term_status", status), ("proto_specific_hangup_cause", f"sip:{status}"),
                               ("sip_term_cause", T.Q850.get(cause, "16"))])
        self.hangup_uepoch = self._now()
        self.fire("CHANNEL_HANGUP")
        if self.answered:
            self.set_var("sip_hangup_disposition", "recv_bye" if remote else "send_bye")
        self.hangup_event.set()
        self.break_event.set()
        return True

