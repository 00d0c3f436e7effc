"""play_and_get_digits: argument building and result interpretation (pure).

Result rule, worked out from trace 02 and FreeSWITCH's switch_play_and_get_digits():
* PAGD clears ``<var>_invalid`` when it starts (we always pass a regex, so this always happens) and sets it
  to the rejected input whenever a try is keyed but fails the regex; the value survives a valid retry
  (02c: ``ivr_choice_invalid=9`` next to ``ivr_choice=2``).
* A try that fails the regex also clears ``<var>``; a try with no input leaves ``<var>`` alone.
* ``read_result`` describes the LAST try only: ``success`` (or ``timeout`` when the inter-digit timeout
  ended an input that was long enough) when digits were keyed, ``failure`` when nothing (or too little)
  was keyed -- 02b: a silent caller gives ``failure``, not ``timeout``.
So: read_result success/timeout with ``<var>`` set -> SUCCESS; success/timeout without ``<var>`` but with
``<var>_invalid`` -> the last try was keyed and rejected -> INVALID (without either: min_digits=0 and a bare
terminator, an accepted empty input); anything else -> TIMEOUT (with ``invalid_digits`` still
reporting an earlier rejected try). Too few digits on the last try reads as TIMEOUT as well: FreeSWITCH
reports it exactly like silence.
``read_terminator_used`` is never cleared, so the terminator is taken from the DTMF events seen during
the collection (the terminator produces one too) and the variable is only a fallback.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from esl_apps.call import CollectResult, CollectStatus

DEFAULT_REGEX = "^[0-9*#A-D]+$"
"""Used when the flow gives none: accepts any keyed input, and makes PAGD reset ``<var>_invalid``."""
DEFAULT_INVALID_PROMPT = "silence_stream://250"


def _arg(value: str, what: str) -> str:
    """One space-separated PAGD argument; FreeSWITCH's splitter honours single quotes around blanks."""
    if not value:
        raise ValueError(f"play_and_get_digits: {what} must not be empty")
    if "\n" in value or "\r" in value:
        raise ValueError(f"play_and_get_digits: {what} must be one line")
    if re.search(r"\\[nrts]", value):
        # FreeSWITCH's argument splitter would turn these into characters (switch_separate_string).
        raise ValueError(f"play_and_get_digits: {what} {value!r} uses \\s, \\t, \\n or \\r")
    if any(c.isspace() for c in value):
        if "'" in value:
            raise ValueError(f"play_and_get_digits: {what} {value!r} has both blanks and a quote")
        return f"'{value}'"
    return value


def build_collect_args(
    prompt: str,
    *,
    min_digits: int,
    max_digits: int,
    tries: int,
    timeout_ms: int,
    terminators: str,
    regex: str | None,
    invalid_prompt: str | None,
    digit_timeout_ms: int | None,
    variable: str,
) -> str:
    if not 0 <= min_digits <= max_digits or max_digits < 1:
        raise ValueError(f"collect: need 0 <= min_digits <= max_digits and max_digits >= 1 "
                         f"(got {min_digits}, {max_digits})")
    if tries < 1 or timeout_ms < 1:
        raise ValueError("collect: tries and timeout_ms must be positive")
    parts = [
        str(min_digits),
        str(max_digits),
        str(tries),
        str(timeout_ms),
        _arg(terminators or "none", "terminators"),
        _arg(prompt, "prompt"),
        _arg(invalid_prompt or DEFAULT_INVALID_PROMPT, "invalid prompt"),
        _arg(variable, "variable"),
        _arg(regex or DEFAULT_REGEX, "regex"),
    ]
    if digit_timeout_ms is not None:
        if digit_timeout_ms < 1:
            raise ValueError("collect: digit_timeout_ms must be positive")
        parts.append(str(digit_timeout_ms))
    return " ".join(parts)


def collect_result(
    variables: Mapping[str, str],
    variable: str,
    terminators: str,
    keyed: Sequence[str],
) -> CollectResult:
    """`variables`: the COMPLETE's channel variables; `keyed`: DTMF digits seen while PAGD ran."""
    read_result = variables.get("read_result")
    digits = variables.get(variable)
    invalid = variables.get(variable + "_invalid") or None
    if keyed:
        terminator = keyed[-1] if keyed[-1] and keyed[-1] in terminators else None
    else:
        terminator = variables.get("read_terminator_used") or None
    if read_result in ("success", "timeout"):
        if digits is not None:
            return CollectResult(digits, CollectStatus.SUCCESS, terminator, invalid)
        if invalid is None:
            # Only reachable with min_digits=0: a bare terminator is accepted as empty input.
            return CollectResult("", CollectStatus.SUCCESS, terminator, None)
        return CollectResult("", CollectStatus.INVALID, terminator, invalid)
    return CollectResult("", CollectStatus.TIMEOUT, None, invalid)


def without_files(prompt: str) -> str:
    """What a collection can still play when FreeSWITCH could not open its prompt: the spoken
    (``say:``) and generated (``tone_stream://``...) parts, else a moment of silence."""
    parts = prompt[len("file_string://"):].split("!") if prompt.startswith("file_string://") else [prompt]
    kept = [part for part in parts if part.startswith("say:") or "://" in part]
    if not kept:
        return DEFAULT_INVALID_PROMPT
    return kept[0] if len(kept) == 1 else "file_string://" + "!".join(kept)
