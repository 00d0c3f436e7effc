"""A :class:`esl_apps.call.Call` test double that plays a caller from a script.

It records every action the application takes (``call.actions``) and answers digit collection
like FreeSWITCH's ``play_and_get_digits``: one script entry per try, the entry's digits cut at
the first terminator, checked against min/max length and the regex, retried up to ``tries``.
A hangup can be scripted on the n-th occurrence of any action, after which every method raises
:class:`CallHangup` (as the Call protocol promises). Time advances on a shared :class:`FakeClock`
so mask spans and decisions have deterministic timestamps.
"""

from __future__ import annotations

import re
import uuid as uuidlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from esl_apps.call import (
    BridgeOutcome,
    BridgeResult,
    BridgeTarget,
    CallCommandError,
    CallHangup,
    CollectResult,
    CollectStatus,
)

__all__ = ["FakeClock", "ScriptedCall", "answer_by", "bridge_outcome"]


class FakeClock:
    """A tz-aware clock that only moves when told (or when the scripted call acts)."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 23, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def bridge_outcome(
    outcome: BridgeOutcome, cause: str = ""
) -> Callable[[Sequence[BridgeTarget]], BridgeResult]:
    """Every bridge ends with ``outcome`` (no agent answers)."""
    return lambda targets: BridgeResult(outcome=outcome, cause=cause or outcome.value.upper())


def answer_by(agent_id: str, ended_by: str = "agent") -> Callable[[Sequence[BridgeTarget]], BridgeResult]:
    """The leg of ``agent_id`` answers when it is rung; otherwise nobody answers."""

    def result(targets: Sequence[BridgeTarget]) -> BridgeResult:
        if any(t.agent_id == agent_id for t in targets):
            return BridgeResult(BridgeOutcome.ANSWERED, "SUCCESS", answered_by=agent_id, ended_by=ended_by)
        return BridgeResult(BridgeOutcome.NO_ANSWER, "NO_ANSWER")

    return result


class ScriptedCall:
    def __init__(
        self,
        *,
        inputs: Iterable[str | None] = (),
        caller: str = "+441632960001",
        destination: str = "+442071234567",
        uuid: str | None = None,
        variables: Mapping[str, str] | None = None,
        clock: FakeClock | None = None,
        hangup_on: str | None = None,
        hangup_at: int = 1,
        bridge: Callable[[Sequence[BridgeTarget]], BridgeResult] | None = None,
        missing_files: Iterable[str] = (),
        refuse: Iterable[str] = (),
        voicemail_hangs_up: bool = True,
        fail_on: str | None = None,
    ) -> None:
        self._uuid = uuid or str(uuidlib.uuid4())
        self._caller = caller
        self._destination = destination
        self._variables: dict[str, str] = dict(variables or {})
        self.inputs: list[str | None] = list(inputs)
        self.clock = clock or FakeClock()
        self.hangup_on = hangup_on
        self.hangup_at = hangup_at
        self.bridge_fn = bridge or bridge_outcome(BridgeOutcome.NO_ANSWER, "NO_ANSWER")
        self.missing_files = set(missing_files)
        self.refuse = set(refuse)  # action names answered with CallCommandError
        self.voicemail_hangs_up = voicemail_hangs_up
        self.fail_on = fail_on  # action name raising RuntimeError (an application bug stand-in)
        self.actions: list[tuple[Any, ...]] = []
        self.counts: dict[str, int] = {}
        self._hung_up = False
        self.hangup_cause: str | None = None
        self.recording: str | None = None
        self.masked = False

    # -- Call properties ------------------------------------------------------------------------
    @property
    def uuid(self) -> str:
        return self._uuid

    @property
    def caller_number(self) -> str:
        return self._caller

    @property
    def caller_name(self) -> str:
        return "Test Caller"

    @property
    def destination(self) -> str:
        return self._destination

    @property
    def variables(self) -> Mapping[str, str]:
        return self._variables

    @property
    def hung_up(self) -> bool:
        return self._hung_up

    # -- helpers for tests ----------------------------------------------------------------------
    def names(self) -> list[str]:
        return [a[0] for a in self.actions]

    def of(self, name: str) -> list[tuple[Any, ...]]:
        return [a for a in self.actions if a[0] == name]

    def _act(self, name: str, *args: Any, advance: float = 0.0) -> None:
        if self._hung_up:
            raise CallHangup(self.hangup_cause or "NORMAL_CLEARING")
        self.counts[name] = self.counts.get(name, 0) + 1
        self.actions.append((name, *args))
        self.clock.advance(advance)
        if self.hangup_on == name and self.counts[name] == self.hangup_at:
            self._hung_up = True
            self.hangup_cause = "NORMAL_CLEARING"
            self.actions.append(("caller_hangup", name))
            raise CallHangup("NORMAL_CLEARING")
        if name == self.fail_on:
            raise RuntimeError(f"scripted failure in {name}")
        if name in self.refuse:
            raise CallCommandError(f"-ERR {name} refused")

    # -- Call methods ---------------------------------------------------------------------------
    async def answer(self) -> None:
        self._act("answer")

    async def play(self, prompt: str) -> str:
        self._act("play", prompt, advance=1.0)
        return "FILE NOT FOUND" if prompt in self.missing_files else "FILE PLAYED"

    async def speak(self, text: str, engine: str, voice: str) -> None:
        self._act("speak", text, engine, voice, advance=1.0)

    async def say(self, language: str, kind: str, method: str, value: str) -> None:
        self._act("say", language, kind, method, value, advance=1.0)

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
        self._act(
            "collect",
            prompt,
            {
                "min": min_digits,
                "max": max_digits,
                "tries": tries,
                "regex": regex,
                "terminators": terminators,
                "variable": variable,
            },
            advance=1.0,
        )
        status, invalid = CollectStatus.TIMEOUT, None
        for attempt in range(tries):
            if attempt:
                self._act("collect_retry", prompt, advance=1.0)
            keyed = self.inputs.pop(0) if self.inputs else None
            if not keyed:
                self.clock.advance(timeout_ms / 1000)
                status = CollectStatus.TIMEOUT
                continue
            digits, terminator = keyed, None
            for index, char in enumerate(keyed):
                if terminators and char in terminators:
                    digits, terminator = keyed[:index], char
                    break
            digits = digits[:max_digits]
            if min_digits <= len(digits) <= max_digits and (regex is None or re.search(regex, digits)):
                self._variables[variable] = digits
                return CollectResult(digits, CollectStatus.SUCCESS, terminator=terminator)
            status, invalid = CollectStatus.INVALID, digits
            self._variables[f"{variable}_invalid"] = digits
            if invalid_prompt:
                self.actions.append(("invalid_prompt", invalid_prompt))
        return CollectResult("", status, invalid_digits=invalid)

    async def record_start(self, path: str, *, stereo: bool = True) -> None:
        self._act("record_start", path, stereo)
        self.recording = path

    async def record_stop(self, path: str) -> None:
        self._act("record_stop", path)
        self.recording = None

    async def record_mask(self, path: str) -> None:
        self._act("record_mask", path)
        self.masked = True

    async def record_unmask(self, path: str) -> None:
        self._act("record_unmask", path)
        self.masked = False

    async def bridge(
        self,
        targets: Sequence[BridgeTarget],
        *,
        simultaneous: bool = True,
        call_vars: Mapping[str, str] | None = None,
    ) -> BridgeResult:
        self._act("bridge", tuple(t.endpoint for t in targets), simultaneous, advance=5.0)
        result = self.bridge_fn(targets)
        if result.answered and result.ended_by == "caller":
            self._hung_up = True
            self.hangup_cause = "NORMAL_CLEARING"
        return result

    async def bind_meta(self, key: str, variable: str, value: str) -> None:
        self._act("bind_meta", key, variable, value)

    async def transfer(self, extension: str, context: str = "default") -> None:
        self._act("transfer", extension, context)

    async def voicemail(self, box: str, domain: str, profile: str = "default") -> None:
        self._act("voicemail", box, domain, profile, advance=10.0)
        if self.voicemail_hangs_up:
            self._hung_up = True
            self.hangup_cause = "NORMAL_CLEARING"
            raise CallHangup("NORMAL_CLEARING")

    async def set_var(self, name: str, value: str) -> None:
        self._act("set_var", name, value)
        if value == "":
            self._variables.pop(name, None)
        else:
            self._variables[name] = value

    async def set_vars(self, variables: Mapping[str, str]) -> None:
        for name, value in variables.items():
            await self.set_var(name, value)

    async def get_var(self, name: str) -> str | None:
        self._act("get_var", name)
        return self._variables.get(name)

    async def hangup(self, cause: str = "NORMAL_CLEARING") -> None:
        self._act("hangup", cause)
        self._hung_up = True
        self.hangup_cause = cause

    async def sleep(self, ms: int) -> None:
        self._act("sleep", ms, advance=ms / 1000)
