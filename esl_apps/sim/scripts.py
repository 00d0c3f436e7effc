"""What the simulated people do: the caller's script and each agent phone's behaviour.

Durations are emulated seconds (the emulator multiplies them by its ``time_scale``).
Digit entries are consumed one per prompt: every try of ``play_and_get_digits`` and every ``read``
that the caller (or, on the agent's wrap-up leg, the agent) meets takes the next entry; an empty
entry or an exhausted list means the person keys nothing and the prompt times out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

AgentMode = Literal["answer", "no_answer", "busy", "reject", "unregistered"]


@dataclass(frozen=True)
class CallerScript:
    digits: Sequence[str] = field(default_factory=tuple)
    hangup_after_s: float | None = None  # after the call is answered
    hangup_during: str | None = None  # hang up as soon as this application starts on the caller's leg
    audio_s: float = 5.0  # how long the caller talks (voicemail message length)
    first_digit_after_s: float = 0.3  # first key this long after the collecting application starts
    digit_gap_s: float = 0.4  # between keys (RFC 2833 events 0.4 s apart, as in trace 02)
    abandon_after_s: float | None = None  # hang up this long after dialling if still not answered


@dataclass(frozen=True)
class AgentBehaviour:
    answer_after_s: float = 1.0
    mode: AgentMode = "answer"
    talk_s: float | None = None  # the agent hangs up this long after answering; None: waits
    wrapup_digits: Sequence[str] = field(default_factory=tuple)
    hotkeys: Sequence[tuple[float, str]] = field(default_factory=tuple)  # (s after answer, "*2")
    busy_after_s: float = 0.3  # how long before a busy/reject answer arrives
    first_digit_after_s: float = 1.6  # wrap-up keys: the agent needs a moment (trace 04a: ~1.6 s)
    digit_gap_s: float = 0.4
    hangup_after_wrapup_s: float | None = None  # agent hangs up this long after keying the code
    # group_confirm_key on the leg: a person presses the key this long after picking up; a voicemail
    # or an auto-answering phone (confirms=False) never does
    confirms: bool = True
    confirm_after_s: float = 1.5


class Party:
    """The person on one leg: hands out digit entries and timing to the collecting applications."""

    def __init__(self, digits: Sequence[str], first_digit_after_s: float, digit_gap_s: float,
                 label: str) -> None:
        self._digits = list(digits)
        self.first_digit_after_s = first_digit_after_s
        self.digit_gap_s = digit_gap_s
        self.label = label
        self.keyed: list[str] = []

    def next_entry(self) -> str:
        entry = self._digits.pop(0) if self._digits else ""
        return entry

    @property
    def remaining(self) -> int:
        return len(self._digits)
