"""esl_apps.call.Call implemented on a FreeSWITCH outbound ESL session.

Each method maps to one dialplan application (or api command) and returns when FreeSWITCH reports it
finished. After the channel hangs up every method raises CallHangup, except `bridge`, which returns the
result of an answered bridge the caller ended (dispositions and statistics need to see it) and
`hangup`, which is a no-op. Argument quoting and result rules follow FreeSWITCH's own parsers and the
recorded calls; they are documented per method and in docs/runtime.md.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace

from esl_apps.call import BridgeResult, BridgeTarget, CallCommandError, CallHangup, CollectResult

from .bridge_outcome import bridge_result, match_target
from .collect import DEFAULT_INVALID_PROMPT, build_collect_args, collect_result, without_files
from .dialstring import build_dial_string
from .outbound import ChannelVariables, OutboundSession
from .protocol import Event

_LOG = logging.getLogger(__name__)
UNMASK_FLUSH_S = 0.1  # three 20 ms frames (and a margin) that FreeSWITCH may still hold when asked to unmask

_VAR_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")
_META_KEYS = frozenset("0123456789")


def _check_var(name: str) -> str:
    if not _VAR_NAME.match(name or ""):
        raise ValueError(f"invalid channel variable name {name!r}")
    return name


def _one_line(text: str) -> str:
    return " ".join(text.split()) if ("\n" in text or "\r" in text) else text


class FreeSwitchCall:
    """The Call the flow engine and features use, driving one OutboundSession."""

    def __init__(
        self,
        session: OutboundSession,
        *,
        tts_engine: str = "flite",
        tts_voice: str = "kal",
        language: str = "en",
    ) -> None:
        self.session = session
        self.tts_engine = tts_engine
        self.tts_voice = tts_voice
        self.language = language
        self._continue_on_fail = False
        self._released: str | None = None  # set after transfer/hangup: the app no longer owns the call

    # ------------------------------------------------------------------ identity

    @property
    def uuid(self) -> str:
        return self.session.uuid

    @property
    def caller_number(self) -> str:
        return self.session.channel.get("Caller-Caller-ID-Number") or ""

    @property
    def caller_name(self) -> str:
        return self.session.channel.get("Caller-Caller-ID-Name") or ""

    @property
    def destination(self) -> str:
        return self.session.channel.get("Caller-Destination-Number") or ""

    @property
    def variables(self) -> Mapping[str, str]:
        return self.session.variables

    @property
    def hung_up(self) -> bool:
        return self.session.hung_up

    # ------------------------------------------------------------------ plumbing

    def _check(self) -> None:
        if self.session.hung_up:
            raise CallHangup(self.session.hangup_cause or "NORMAL_CLEARING")
        if self._released is not None:
            raise CallHangup(self._released)

    async def _exec(self, app: str, arg: str | None = None) -> Event:
        self._check()
        event = await self.session.execute(app, arg)
        if self.session.hung_up:
            raise CallHangup(self.session.hangup_cause or "NORMAL_CLEARING")
        return event

    # ------------------------------------------------------------------ media

    async def answer(self) -> None:
        await self._exec("answer")

    async def play(self, prompt: str) -> str:
        """playback; returns Application-Response (FILE PLAYED, FILE NOT FOUND, ...)."""
        event = await self._exec("playback", prompt)
        return event.get("Application-Response") or ""

    async def speak(self, text: str, engine: str | None = None, voice: str | None = None) -> None:
        engine = engine or self.tts_engine
        voice = voice or self.tts_voice
        if "|" in engine or "|" in voice:
            raise ValueError("TTS engine and voice names must not contain '|'")
        await self._exec("speak", f"{engine}|{voice}|{_one_line(text)}")

    async def say(self, language: str, kind: str, method: str, value: str) -> None:
        lang = language or self.language
        for part in (lang, kind, method):
            if not part or any(c.isspace() for c in part):
                raise ValueError(f"say: {part!r} must be one word")
        await self._exec("say", f"{lang} {kind} {method} {_one_line(value)}")

    async def sleep(self, ms: int) -> None:
        await self._exec("sleep", str(max(0, int(ms))))

    async def collect(
        self,
        prompt: str,
        *,
        min_digits: int = 1,
        max_digits: int = 1,
        tries: int = 3,
        timeout_ms: int = 5000,
        terminators: str = "#",
        regex: str | None = None,
        invalid_prompt: str | None = None,
        digit_timeout_ms: int | None = None,
        variable: str = "esl_apps_digits",
    ) -> CollectResult:
        """play_and_get_digits; the result is read from its CHANNEL_EXECUTE_COMPLETE (see collect.py).

        The DTMF events of the channel are watched while it runs: the last one tells whether a
        terminator ended the input (read_terminator_used is never cleared by FreeSWITCH)."""
        arg = build_collect_args(
            prompt,
            min_digits=min_digits,
            max_digits=max_digits,
            tries=tries,
            timeout_ms=timeout_ms,
            terminators=terminators,
            regex=regex,
            invalid_prompt=invalid_prompt,
            digit_timeout_ms=digit_timeout_ms,
            variable=_check_var(variable),
        )
        seen: list[tuple[int, str]] = []
        uuid = self.uuid

        def on_event(event: Event) -> None:
            if event.name == "DTMF" and event.headers.get("Unique-ID") == uuid:
                seen.append((_sequence(event), event.headers.get("DTMF-Digit") or ""))

        self.session.add_event_listener(on_event)
        try:
            event = await self._exec("play_and_get_digits", arg)
        finally:
            self.session.remove_event_listener(on_event)
        # A key the park loop took after the collection ended can arrive in the same read as the
        # EXECUTE_COMPLETE: only DTMF events sequenced before it belong to this collection.
        done_at = _sequence(event)
        keyed = [digit for at, digit in seen if not done_at or at < done_at]
        variables = ChannelVariables(event.headers)
        unplayed = variables.get("read_result") is None and not keyed
        if unplayed and (fallback := without_files(prompt)) != prompt:
            # switch_ivr_read clears read_result, then gives up before collecting when its prompt
            # cannot be opened (a missing sound file): every try passed in an instant and the caller
            # could not key. Collect again with what can be played, so the menu still works; when
            # that is only silence the caller heard none of the prompt, and the result says so.
            _LOG.warning("call %s: FreeSWITCH could not play the prompt %s; collecting without its files",
                         uuid, prompt)
            result = await self.collect(
                fallback, min_digits=min_digits, max_digits=max_digits, tries=tries,
                timeout_ms=timeout_ms, terminators=terminators, regex=regex, invalid_prompt=invalid_prompt,
                digit_timeout_ms=digit_timeout_ms, variable=variable,
            )
            return replace(result, prompt_played=False) if fallback == DEFAULT_INVALID_PROMPT else result
        result = collect_result(variables, variable, terminators, keyed)
        return replace(result, prompt_played=False) if unplayed else result

    # ------------------------------------------------------------------ recording

    async def record_start(self, path: str, *, stereo: bool = True) -> None:
        # RECORD_STEREO stays on the channel, so it is always set to what this recording wants.
        await self._exec("set", f"RECORD_STEREO={'true' if stereo else 'false'}")
        await self._exec("record_session", path)

    async def record_stop(self, path: str) -> None:
        await self._exec("stop_record_session", path)

    async def record_mask(self, path: str) -> None:
        await self._record_api("mask", path)

    async def record_unmask(self, path: str) -> None:
        # The recording's media bug writes frames a little after it captures them (it pairs the two
        # directions, up to two frames behind), and the mask is applied when a frame is WRITTEN:
        # unmasking at once let the last masked frame into the file (seen on FreeSWITCH 1.11.1:
        # 20 ms of a masked prompt after every unmask). Wait until those frames are written masked.
        await asyncio.sleep(UNMASK_FLUSH_S)
        await self._record_api("unmask", path)

    async def _record_api(self, action: str, path: str) -> None:
        self._check()
        if any(c.isspace() for c in path):
            raise ValueError(f"uuid_record {action}: the path must not contain blanks: {path!r}")
        response = await self.session.api("uuid_record", f"{self.uuid} {action} {path}")
        if not response.ok:
            raise CallCommandError(response.body.strip())

    # ------------------------------------------------------------------ bridging

    async def bridge(
        self,
        targets: Sequence[BridgeTarget],
        *,
        simultaneous: bool = True,
        call_vars: Mapping[str, str] | None = None,
        on_answer: Callable[[str | None], Awaitable[None]] | None = None,
    ) -> BridgeResult:
        self._check()
        dial = build_dial_string(targets, simultaneous=simultaneous, call_vars=call_vars)
        if not self._continue_on_fail:
            # Without it FreeSWITCH hangs the caller up when no leg answers (traces 03a/03b).
            await self._exec("set", "continue_on_fail=true")
            self._continue_on_fail = True
        bridged: list[Event] = []
        uuid = self.uuid
        answer_tasks: list[asyncio.Task[None]] = []

        def on_event(event: Event) -> None:
            if event.name == "CHANNEL_BRIDGE" and event.headers.get("Unique-ID") == uuid:
                bridged.append(event)
                if on_answer is not None and len(bridged) == 1:
                    answer_tasks.append(asyncio.ensure_future(_notify_answer(on_answer, targets, event)))

        self.session.add_event_listener(on_event)
        try:
            complete = await self.session.execute("bridge", dial)
        finally:
            self.session.remove_event_listener(on_event)
            if answer_tasks:
                await asyncio.gather(*answer_tasks, return_exceptions=True)
        caller_gone = self.session.hung_up or complete.get("Answer-State") == "hangup"
        result = bridge_result(
            ChannelVariables(complete.headers),
            targets=targets,
            bridged=bridged[-1].headers if bridged else None,
            caller_hung_up=caller_gone,
        )
        if caller_gone and not result.answered:
            cause = self.session.hangup_cause or complete.get("Hangup-Cause") or "NORMAL_CLEARING"
            if result.cause == "ORIGINATOR_CANCEL" or cause != result.cause:
                # The caller gave up while the legs were ringing.
                raise CallHangup(cause)
            # Otherwise FreeSWITCH itself hung the caller up because of the failure (continue_on_fail
            # was overridden): report the outcome; the next call on this Call raises CallHangup.
        return result

    async def break_media(self) -> None:
        """``api uuid_break <uuid>``: stop the playback, say or speak running now (a queued caller's
        music on hold when their agent is free). Nothing is sent once the call is gone."""
        if self.session.hung_up or self._released is not None:
            return
        await self.session.api("uuid_break", self.uuid)

    async def bind_meta(self, key: str, variable: str, value: str) -> None:
        """`bind_meta_app <key> b oi set::<var>=<value>`: the answering leg keys *<key> during a bridge
        and the caller's channel gets the variable at once (inline; trace 04f)."""
        if len(key) != 1 or key not in _META_KEYS:
            raise ValueError(f"meta key must be one digit 0-9, not {key!r}")
        if not value or any(c.isspace() for c in value):
            raise ValueError(f"bind_meta value must be one non-empty word: {value!r}")
        await self._exec("bind_meta_app", f"{key} b oi set::{_check_var(variable)}={value}")

    # ------------------------------------------------------------------ routing

    async def transfer(self, extension: str, context: str = "default") -> None:
        for part in (extension, context):
            if not part or any(c.isspace() for c in part):
                raise ValueError(f"transfer: {part!r} must be one word")
        await self._exec("transfer", f"{extension} XML {context}")
        self._released = "TRANSFERRED"

    async def voicemail(self, box: str, domain: str, profile: str = "default") -> None:
        for part in (box, domain, profile):
            if not part or any(c.isspace() for c in part):
                raise ValueError(f"voicemail: {part!r} must be one word")
        await self._exec("voicemail", f"{profile} {domain} {box}")

    # ------------------------------------------------------------------ variables and hangup

    async def set_var(self, name: str, value: str) -> None:
        await self._exec("set", f"{_check_var(name)}={_one_line(value)}")

    async def set_vars(self, variables: Mapping[str, str]) -> None:
        items = [(_check_var(name), _one_line(value)) for name, value in variables.items()]
        # multiset splits on "^^<delim>" and then strips quotes and backslash escapes from each
        # item (switch_separate_string); a value with any of those is set on its own instead.
        if len(items) > 1 and not any(c in value for _, value in items for c in "|'\\\""):
            await self._exec("multiset", "^^|" + "|".join(f"{name}={value}" for name, value in items))
            return
        for name, value in items:
            await self._exec("set", f"{name}={value}")

    async def get_var(self, name: str) -> str | None:
        self._check()
        return await self.session.getvar(_check_var(name))

    async def hangup(self, cause: str = "NORMAL_CLEARING") -> None:
        if self.session.hung_up or self._released is not None:
            return
        await self.session.hangup(cause)
        # CHANNEL_HANGUP follows within milliseconds; nothing may be sent to the channel meanwhile.
        self._released = cause


async def _notify_answer(
    on_answer: Callable[[str | None], Awaitable[None]], targets: Sequence[BridgeTarget], event: Event
) -> None:
    """Tell the ring group who answered (CHANNEL_BRIDGE), without ever disturbing the bridge."""
    target = match_target(
        targets,
        channel_name=event.get("Other-Leg-Channel-Name"),
        destination_number=event.get("Other-Leg-Destination-Number"),
    )
    agent_id = None if target is None else (target.agent_id or target.endpoint)
    try:
        await on_answer(agent_id)
    except Exception:  # a bookkeeping failure must not end the conversation
        logging.getLogger(__name__).exception("on_answer callback failed for %s", agent_id)


def _sequence(event: Event) -> int:
    value = event.headers.get("Event-Sequence") or ""
    return int(value) if value.isdigit() else 0
