"""The switch-agnostic call the features are written against.

The flow engine and the features (consent, ring groups, dispositions...) only ever see this
``Call`` protocol. FreeSWITCH's implementation lives in ``esl_apps.esl.fscall``; the emulator drives
that same implementation over the real wire protocol, and a later Asterisk adapter can implement
the protocol without touching the engine.

Every method is a coroutine that returns when the switch reports the action finished. When the
caller hangs up, the pending coroutine (and every later one) raises :class:`CallHangup`, so a flow
needs one ``except CallHangup`` instead of a check after every step.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, runtime_checkable


class CallHangup(Exception):
    """The call ended (caller hung up, or the switch hung it up) while the flow was using it."""

    def __init__(self, cause: str = "NORMAL_CLEARING") -> None:
        super().__init__(cause)
        self.cause = cause


class CallCommandError(Exception):
    """The switch refused a command (for FreeSWITCH: a ``-ERR ...`` reply); carries its text."""

    def __init__(self, reply_text: str) -> None:
        super().__init__(reply_text)
        self.reply_text = reply_text


class CollectStatus(StrEnum):
    SUCCESS = "success"  # digits matched the regex (or no regex)
    TIMEOUT = "timeout"  # nothing (valid) was keyed within the tries
    INVALID = "invalid"  # the last try was keyed but did not match (digits in invalid_digits)


@dataclass(frozen=True, slots=True)
class CollectResult:
    digits: str
    status: CollectStatus
    terminator: str | None = None
    invalid_digits: str | None = None
    # False when the switch could not play the prompt at all (a missing file, no TTS engine): the
    # caller heard nothing, which is not the same as a caller who heard it and keyed nothing
    prompt_played: bool = True

    @property
    def ok(self) -> bool:
        return self.status is CollectStatus.SUCCESS


class BridgeOutcome(StrEnum):
    ANSWERED = "answered"  # a leg answered; the bridge has now ended (see BridgeResult.ended_by)
    NO_ANSWER = "no_answer"  # NO_ANSWER, ALLOTTED_TIMEOUT (leg_timeout), ORIGINATOR_CANCEL...
    BUSY = "busy"  # USER_BUSY
    REJECTED = "rejected"  # CALL_REJECTED
    UNREACHABLE = "unreachable"  # USER_NOT_REGISTERED, SUBSCRIBER_ABSENT, NO_ROUTE_DESTINATION, ...
    FAILED = "failed"  # anything else


@dataclass(frozen=True, slots=True)
class BridgeTarget:
    """One leg to ring: ``endpoint`` is switch-specific (``user/1001``, ``sofia/gateway/x/123``).

    ``agent_id`` ties the leg back to the agent it rings so the outcome can name them. ``leg_vars``
    are per-leg channel variables (FreeSWITCH ``[k=v]``), e.g. ``transfer_after_bridge``.
    """

    endpoint: str
    timeout_s: int = 20
    delay_s: int = 0
    agent_id: str | None = None
    leg_vars: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class BridgeResult:
    outcome: BridgeOutcome
    cause: str  # the switch's own word, e.g. FreeSWITCH originate_disposition: SUCCESS, USER_BUSY
    answered_by: str | None = None  # agent_id of the leg that answered (or its endpoint)
    other_leg_uuid: str | None = None
    ended_by: str | None = None  # after ANSWERED: "caller" or "agent"
    leg_causes: tuple[tuple[str, str], ...] = ()  # (leg uuid, cause) as the switch reported them

    @property
    def answered(self) -> bool:
        return self.outcome is BridgeOutcome.ANSWERED


@runtime_checkable
class Call(Protocol):
    """One live call under the application's control."""

    @property
    def uuid(self) -> str: ...

    @property
    def caller_number(self) -> str: ...

    @property
    def caller_name(self) -> str: ...

    @property
    def destination(self) -> str:
        """The number dialled (the DID for inbound calls)."""
        ...

    @property
    def variables(self) -> Mapping[str, str]:
        """Channel variables as last reported by the switch (without a ``variable_`` prefix)."""
        ...

    @property
    def hung_up(self) -> bool: ...

    async def answer(self) -> None: ...

    async def play(self, prompt: str) -> str:
        """Play a file, ``tone_stream://`` or ``silence_stream://`` source; returns the switch's
        completion text (FreeSWITCH: ``FILE PLAYED``, ``FILE NOT FOUND``...)."""
        ...

    async def speak(self, text: str, engine: str, voice: str) -> None:
        """Text to speech through the switch's TTS engine (FreeSWITCH ``speak engine|voice|text``)."""
        ...

    async def say(self, language: str, kind: str, method: str, value: str) -> None:
        """Read a value out (FreeSWITCH ``say``: ``en number iterated 12``)."""
        ...

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
    ) -> CollectResult: ...

    async def record_start(self, path: str, *, stereo: bool = True) -> None: ...

    async def record_stop(self, path: str) -> None: ...

    async def record_mask(self, path: str) -> None:
        """Write silence instead of audio into ``path`` until :meth:`record_unmask` (PCI)."""
        ...

    async def record_unmask(self, path: str) -> None: ...

    async def bridge(
        self,
        targets: Sequence[BridgeTarget],
        *,
        simultaneous: bool = True,
        call_vars: Mapping[str, str] | None = None,
        on_answer: Callable[[str | None], Awaitable[None]] | None = None,
    ) -> BridgeResult:
        """Ring ``targets`` (all at once, or one after the other) and, if one answers, stay bridged
        until either side ends; returns only then. A failed bridge leaves the caller up.

        ``on_answer(agent_id)`` runs as soon as a leg answers (agent_id of the matching target, or
        None), while the conversation goes on: ring groups use it to put the winner on call and free
        the agents who lost the race, instead of holding them until the call ends."""
        ...

    async def bind_meta(self, key: str, variable: str, value: str) -> None:
        """During later bridges, when the *answering* leg keys ``*<key>``, set ``variable=value``
        on this call at once (FreeSWITCH ``bind_meta_app <key> b oi set::...``)."""
        ...

    async def transfer(self, extension: str, context: str = "default") -> None:
        """Hand the call back to the dialplan; the application loses control of it."""
        ...

    async def voicemail(self, box: str, domain: str, profile: str = "default") -> None: ...

    async def set_var(self, name: str, value: str) -> None: ...

    async def set_vars(self, variables: Mapping[str, str]) -> None:
        """Several variables in one command (FreeSWITCH ``multiset``): every command costs the
        switch a media frame and the application a round trip. An empty value unsets."""
        ...

    async def get_var(self, name: str) -> str | None: ...

    async def hangup(self, cause: str = "NORMAL_CLEARING") -> None: ...

    async def sleep(self, ms: int) -> None:
        """Wait on the switch's clock (keeps media flowing; a hangup interrupts it)."""
        ...
