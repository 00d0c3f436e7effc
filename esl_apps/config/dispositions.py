"""conf/dispositions.yaml: the codebook agents key DTMF codes from after a call.

A code belongs to one category (outcome, intent, sentiment ...). In ``multi`` capture mode an
agent keys several codes in one go (``23*40*50#``), at most one per category unless the category
allows several, and every ``required`` category must be present.
"""

from __future__ import annotations

from functools import cached_property
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from esl_apps.config.types import ConfigModel, Identifier

__all__ = ["Capture", "CapturePrompts", "Category", "Code", "Codebook", "DispositionAction", "SystemCodes"]

DispositionAction = Literal["none", "dnc", "callback", "qa_review"]


def _code(value: str) -> str:
    if not value.isascii() or not value.isdigit() or not 1 <= len(value) <= 6:
        raise ValueError(f'expected a disposition code of 1 to 6 digits (e.g. "23"), got {value!r}')
    return value


CodeDigits = Annotated[str, AfterValidator(_code)]


class Category(ConfigModel):
    label: str
    required: bool = False
    multiple: bool = False  # more than one code of this category per call


class Code(ConfigModel):
    code: CodeDigits
    label: str
    category: Identifier
    action: DispositionAction = "none"
    callback_time_required: bool = False
    webhook: str | None = None

    @field_validator("webhook")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"expected an http:// or https:// URL, got {value!r}")
        return value


class CapturePrompts(ConfigModel):
    """Wrap-up prompts: a sound file, or ``tts:<text>`` (spoken by the switch's TTS engine).
    Unset ones use the built-in TTS defaults (see docs/dispositions.md)."""

    enter_code: str | None = None
    enter_category: str | None = None  # "{category}" is replaced by the category's label
    invalid: str | None = None
    confirm: str | None = None
    callback_time: str | None = None
    invalid_time: str | None = None
    saved: str | None = None


class Capture(ConfigModel):
    mode: Literal["single", "multi"] = "single"
    separator: Literal["*", "#"] = "*"
    terminator: Literal["#", "*"] = "#"
    confirm: bool = True
    max_tries: int = Field(default=3, ge=1, le=10)
    wrapup_timeout: int = Field(default=60, ge=5, le=3600)
    # Mid-call meta keys: the agent keys *<digit> while bridged and the code is taken at once.
    hotkeys: dict[str, CodeDigits] = Field(default_factory=dict)
    # When the agent hangs up first: ring the agent back into wrap-up instead of the default code.
    recall_agent: bool = False
    prompts: CapturePrompts = CapturePrompts()

    @field_validator("hotkeys")
    @classmethod
    def _meta_keys(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if len(key) != 1 or key not in "0123456789":
                raise ValueError(f"hotkeys: expected one digit 0-9 (keyed as *<digit>), got {key!r}")
        return value

    @model_validator(mode="after")
    def _distinct(self) -> Capture:
        if self.mode == "multi" and self.separator == self.terminator:
            raise ValueError(f"separator and terminator are both {self.separator!r}; use '*' and '#'")
        return self


class SystemCodes(ConfigModel):
    """Codes recorded without an agent, e.g. when the caller hung up in the queue."""

    no_answer: CodeDigits | None = None
    busy: CodeDigits | None = None
    abandoned: CodeDigits | None = None
    voicemail: CodeDigits | None = None
    callback_requested: CodeDigits | None = None


class Codebook(ConfigModel):
    categories: dict[Identifier, Category] = Field(min_length=1)
    codes: tuple[Code, ...] = Field(min_length=1)
    default_code: CodeDigits | None = None
    capture: Capture = Capture()
    system_codes: SystemCodes = SystemCodes()

    @cached_property
    def by_code(self) -> dict[str, Code]:
        # First definition wins; duplicates are reported by the cross-checks.
        result: dict[str, Code] = {}
        for code in self.codes:
            result.setdefault(code.code, code)
        return result

    def lookup(self, code: str) -> Code | None:
        return self.by_code.get(code)

    def codes_in(self, category: str) -> tuple[Code, ...]:
        return tuple(c for c in self.codes if c.category == category)

    @property
    def required_categories(self) -> tuple[str, ...]:
        return tuple(name for name, cat in self.categories.items() if cat.required)
