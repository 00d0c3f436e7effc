"""Building blocks of the IVR flow models: prompts, value types and YAML-friendly coercions.

Split from ``esl_apps.config.flows`` (which re-exports the public names) so each file stays small;
the node models there are built from these.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Discriminator, Field, Tag

from esl_apps.config.types import ConfigModel, Identifier

__all__ = [
    "ConsentPolicy",
    "NodeId",
    "Prompt",
    "PromptItem",
    "Regex",
    "SayKind",
    "SayPrompt",
    "SaySpec",
    "StoreMode",
    "TtsPrompt",
    "TtsSettings",
    "VariableName",
    "stringify",
    "stringify_keys",
    "stringify_values",
]

ConsentPolicy = Literal["notify_only", "opt_out", "opt_in", "never", "inherit"]
StoreMode = Literal["none", "last4", "full"]

SayKind = Literal[
    "number",
    "digits",  # not a FreeSWITCH say type: read out as ``number`` ``iterated`` (one digit at a time)
    "items",
    "persons",
    "messages",
    "currency",
    "time_measurement",
    "current_date",
    "current_time",
    "current_date_time",
    "telephone_number",
    "telephone_extension",
    "url",
    "ip_address",
    "email_address",
    "postal_address",
    "account_number",
    "name_spelled",
    "name_phonetic",
]

_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


_FS_ESCAPES = re.compile(r"\\[nrts]")


def _check_regex(value: str | None) -> str | None:
    if value is not None:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"expected a regular expression, got {value!r} ({exc})") from None
        if _FS_ESCAPES.search(value):
            # switch_separate_string() turns these into a blank / control character before
            # play_and_get_digits sees the regex, so the pattern would silently change.
            raise ValueError(
                f"{value!r}: FreeSWITCH turns \\s, \\t, \\n and \\r in application arguments into "
                "characters before the regex sees them; use a class such as [ ] or [0-9] instead"
            )
    return value


def _check_variable(value: str) -> str:
    if not _VARIABLE.fullmatch(value):
        raise ValueError(f"expected a variable name of letters, digits and '_', got {value!r}")
    return value


def stringify(value: Any) -> Any:
    """YAML reads ``1: sales`` and ``vip: true`` as int/bool; the admin meant the text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


def stringify_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {stringify(k): v for k, v in value.items()}
    return value


def stringify_values(value: Any) -> Any:
    if isinstance(value, dict):
        return {stringify(k): stringify(v) for k, v in value.items()}
    return value


NodeId = Identifier
VariableName = Annotated[str, AfterValidator(_check_variable)]
Regex = Annotated[str, AfterValidator(_check_regex)]

# --------------------------------------------------------------------------------------- prompts


class SaySpec(ConfigModel):
    """Read a value out with the switch's say engine (FreeSWITCH ``say en number pronounced 42``)."""

    type: SayKind
    method: Literal["pronounced", "iterated", "counted"] = "pronounced"
    value: str = Field(min_length=1)
    language: str | None = None  # defaults to the flow's language


class TtsPrompt(ConfigModel):
    """Text to speech; engine and voice default to the flow's ``tts`` settings."""

    tts: str = Field(min_length=1)
    engine: str | None = None
    voice: str | None = None


class SayPrompt(ConfigModel):
    say: SaySpec


def _prompt_tag(value: Any) -> str:
    if isinstance(value, str):
        return "file"
    if isinstance(value, dict):
        if "tts" in value:
            return "tts"
        if "say" in value:
            return "say"
    if isinstance(value, TtsPrompt):
        return "tts"
    if isinstance(value, SayPrompt):
        return "say"
    return "file"  # lets pydantic report "expected a string" for anything else


PromptFile = Annotated[str, Field(min_length=1)]
PromptItem = Annotated[
    Annotated[PromptFile, Tag("file")] | Annotated[TtsPrompt, Tag("tts")] | Annotated[SayPrompt, Tag("say")],
    Discriminator(_prompt_tag),
]
"""One thing to play: a file path / ``tone_stream://`` / ``silence_stream://`` string,
``{tts: text}`` or ``{say: {type, method, value}}``. ``${var}`` is expanded from flow variables."""


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str | dict | TtsPrompt | SayPrompt) else value


Prompt = Annotated[tuple[PromptItem, ...], BeforeValidator(_as_list), Field(min_length=1)]
"""A prompt is one item or a list of items played in order (normalised to a tuple)."""


class TtsSettings(ConfigModel):
    engine: str = "flite"
    voice: str = "kal"
