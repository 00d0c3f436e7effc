"""The conversation with the agent on the wrap-up leg: codes, confirmation, callback time.

Digit collection is left to the switch (``play_and_get_digits``, one try per prompt) but the codes
are checked here against the codebook, so an unknown code gets the "invalid" prompt and another
try, up to ``capture.max_tries`` per question. What has been accepted so far is kept on the object,
so the caller of :meth:`WrapupCapture.run` can still store it when the wrap-up timer cancels the
conversation or the agent hangs up in the middle of it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, tzinfo

from esl_apps.call import Call, CollectStatus
from esl_apps.config.dispositions import Codebook
from esl_apps.config.schedules import Schedule
from esl_apps.features.dispositions_codes import (
    check_entry,
    entry_regex,
    max_entry_digits,
    merge_codes,
    missing_required,
    split_entry,
)
from esl_apps.features.dispositions_prompts import PromptSet, Voice
from esl_apps.features.dispositions_time import parse_callback_time

__all__ = ["WrapupCapture"]

CODE_VARIABLE = "esl_disposition"
CONFIRM_VARIABLE = "esl_disposition_confirm"
TIME_VARIABLE = "esl_disposition_callback"


class WrapupCapture:
    def __init__(
        self,
        call: Call,
        codebook: Codebook,
        voice: Voice,
        prompts: PromptSet,
        *,
        preset: Sequence[str] = (),
        schedule: Schedule | None = None,
        tz: tzinfo = UTC,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        prompt_timeout_ms: int = 8000,
        digit_timeout_ms: int = 3000,
    ) -> None:
        self.call = call
        self.codebook = codebook
        self.voice = voice
        self.prompts = prompts
        self.preset = tuple(preset)  # codes keyed mid-call (hotkeys)
        self.schedule = schedule
        self.tz = tz
        self.clock = clock
        self.prompt_timeout_ms = prompt_timeout_ms
        self.digit_timeout_ms = digit_timeout_ms
        # Results so far (read them even if run() was interrupted):
        self.codes: tuple[str, ...] = ()  # accepted at wrap-up (valid; confirmed unless noted below)
        self.confirmed = True
        self.callback_at: datetime | None = None
        self.callback_problem: str | None = None
        self.rejected: list[str] = []  # entries refused (for the log; never stored as codes)

    @property
    def all_codes(self) -> tuple[str, ...]:
        return merge_codes(self.codebook, self.preset, self.codes)

    async def run(self) -> None:
        capture = self.codebook.capture
        if not (self.preset and not missing_required(self.codebook, self.preset)):
            await self._codes()
        if any(self._time_required(code) for code in self.all_codes):
            await self._callback_time(capture.max_tries)

    def _time_required(self, code: str) -> bool:
        found = self.codebook.lookup(code)
        return found is not None and found.callback_time_required

    # -- codes ----------------------------------------------------------------------------------
    def _entry_prompt(self) -> str:
        have = self.all_codes
        need = missing_required(self.codebook, have)
        if have and need:
            labels = [self.codebook.categories[n].label for n in need]
            return self.prompts.get("enter_category", category=" and ".join(labels))
        if self.codebook.capture.mode == "multi":
            return self.prompts.get("enter_codes")
        if need:
            return self.prompts.get("enter_category", category=self.codebook.categories[need[0]].label)
        return self.prompts.get("enter_code")

    async def _codes(self) -> None:
        capture = self.codebook.capture
        tries = 0
        while tries < capture.max_tries:
            have = self.all_codes
            need = missing_required(self.codebook, have)
            if self.codes and not need:
                return
            prompt = await self.voice.for_collect(self._entry_prompt())
            result = await self.call.collect(
                prompt,
                min_digits=1,
                max_digits=max_entry_digits(self.codebook),
                tries=1,
                timeout_ms=self.prompt_timeout_ms,
                terminators=capture.terminator,
                regex=entry_regex(self.codebook),
                digit_timeout_ms=self.digit_timeout_ms,
                variable=CODE_VARIABLE,
            )
            if result.status is CollectStatus.TIMEOUT:
                tries += 1
                continue
            digits = result.digits if result.ok else (result.invalid_digits or "")
            check = check_entry(self.codebook, split_entry(digits, self.codebook)) if result.ok else None
            if check is None or not check.ok:
                self.rejected.append(digits)
                await self.voice.play(self.prompts.get("invalid"))
                tries += 1
                continue
            if capture.confirm:
                answer = await self._confirm(check.codes)
                if answer is False:
                    tries += 1
                    continue
                if answer is None:  # no answer to "press 1": keep what was keyed, flagged unconfirmed
                    self.confirmed = False
            before = len(need)
            self.codes = merge_codes(self.codebook, self.codes, check.codes)
            if not self.confirmed:
                return
            after = len(missing_required(self.codebook, self.all_codes))
            tries = 0 if after < before else tries + 1

    async def _confirm(self, codes: Sequence[str]) -> bool | None:
        """Read the codes back; True on 1, False on 2, None when the agent keys nothing useful."""
        await self.voice.play(self.prompts.get("you_entered"))
        for code in codes:
            await self.voice.say_digits(code)
        prompt = await self.voice.for_collect(self.prompts.get("confirm"))
        result = await self.call.collect(
            prompt,
            min_digits=1,
            max_digits=1,
            tries=1,
            timeout_ms=self.prompt_timeout_ms,
            terminators="",
            regex="^[12]$",
            variable=CONFIRM_VARIABLE,
        )
        if result.ok and result.digits == "1":
            return True
        if result.ok and result.digits == "2":
            return False
        return None

    # -- callback time --------------------------------------------------------------------------
    async def _callback_time(self, max_tries: int) -> None:
        for _ in range(max_tries):
            prompt = await self.voice.for_collect(self.prompts.get("callback_time"))
            result = await self.call.collect(
                prompt,
                min_digits=1,
                max_digits=13,  # one more than YYYYMMDDHHMM: the terminator ends the entry (see codes)
                tries=1,
                timeout_ms=self.prompt_timeout_ms,
                terminators="#",
                regex="^[0-9]+$",
                digit_timeout_ms=self.digit_timeout_ms,
                variable=TIME_VARIABLE,
            )
            if result.status is CollectStatus.TIMEOUT:
                self.callback_problem = "no time keyed"
                continue
            check = parse_callback_time(result.digits or "", self.clock(), tz=self.tz, schedule=self.schedule)
            if check.ok:
                self.callback_at, self.callback_problem = check.at, None
                if self.codebook.capture.confirm:
                    await self.voice.play(self.prompts.get("callback_at"))
                    assert check.at is not None
                    await self.call.say(self.voice.language, "short_date_time", "pronounced",
                                        str(int(check.at.timestamp())))
                return
            self.callback_problem = check.problem
            await self.voice.play(self.prompts.get("invalid_time"))
