"""Checking what an agent keyed against the codebook (pure: no call, no Redis).

An agent's entry is only ever stored as a whole: one unknown code, or two codes for a category that
takes one, rejects the entry and the agent is asked again. That keeps "garbage DTMF never stores a
code" true even for ``12*99*40#`` where two of three codes are fine: the agent hears "invalid"
and re-keys, instead of a half-right disposition being saved silently.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from esl_apps.config.dispositions import Code, Codebook

__all__ = [
    "EntryCheck",
    "categories_of",
    "check_entry",
    "entry_regex",
    "max_entry_digits",
    "merge_codes",
    "missing_required",
    "split_entry",
]


def split_entry(digits: str, codebook: Codebook) -> tuple[str, ...]:
    """``"12*40"`` -> ``("12", "40")`` in multi mode; single mode takes the entry as one code.

    An empty piece (``"12**40"``, a leading or trailing separator) is kept as ``""`` so that the
    check rejects it: the agent mis-keyed, and guessing what they meant would store a wrong code.
    """
    capture = codebook.capture
    if capture.mode == "multi":
        return tuple(digits.split(capture.separator))
    return (digits,)


def entry_regex(codebook: Codebook) -> str:
    """What the switch accepts as the shape of an entry; the codes themselves are checked here."""
    if codebook.capture.mode == "multi":
        return "^[0-9" + ("\\*" if codebook.capture.separator == "*" else "#") + "]+$"
    return "^[0-9]+$"


def max_entry_digits(codebook: Codebook) -> int:
    """Room for one code per category (or every code of a multi-valued one) plus separators, and
    one more: input that fills ``max_digits`` ends at once and leaves the agent's terminator in
    the DTMF buffer, where it would spoil the next prompt; so only the terminator (or the digit
    timeout) ends an entry."""
    longest = max((len(c.code) for c in codebook.codes), default=6)
    if codebook.capture.mode != "multi":
        return longest + 1
    slots = 0
    for name, category in codebook.categories.items():
        slots += len(codebook.codes_in(name)) if category.multiple else 1
    slots = max(1, min(slots, 16))
    return min(128, slots * (longest + 1) + 1)


@dataclass(frozen=True, slots=True)
class EntryCheck:
    codes: tuple[str, ...]
    problem: str | None = None  # None: every code is valid and the entry is consistent

    @property
    def ok(self) -> bool:
        return self.problem is None


def check_entry(codebook: Codebook, codes: Sequence[str]) -> EntryCheck:
    """Valid when every code exists and no single-valued category gets two different codes."""
    if not codes or any(not code for code in codes):
        return EntryCheck(tuple(codes), "empty code in the entry")
    seen: dict[str, str] = {}
    unique: list[str] = []
    for code in codes:
        found = codebook.lookup(code)
        if found is None:
            return EntryCheck(tuple(codes), f"unknown code {code}")
        if code in unique:
            continue  # keying the same code twice is harmless
        other = seen.get(found.category)
        category = codebook.categories.get(found.category)
        if other is not None and not (category is not None and category.multiple):
            return EntryCheck(tuple(codes), f"codes {other} and {code} are both {found.category}")
        seen[found.category] = code
        unique.append(code)
    return EntryCheck(tuple(unique))


def merge_codes(codebook: Codebook, earlier: Iterable[str], later: Iterable[str]) -> tuple[str, ...]:
    """``earlier`` codes plus ``later`` ones; a later code replaces an earlier code of the same
    single-valued category (an agent correcting a mid-call hotkey at wrap-up)."""
    result: list[str] = [c for c in earlier if codebook.lookup(c) is not None]
    for code in later:
        found = codebook.lookup(code)
        if found is None or code in result:
            continue
        category = codebook.categories.get(found.category)
        if not (category is not None and category.multiple):
            result = [c for c in result if _category(codebook, c) != found.category]
        result.append(code)
    return tuple(result)


def _category(codebook: Codebook, code: str) -> str | None:
    found = codebook.lookup(code)
    return found.category if found is not None else None


def missing_required(codebook: Codebook, codes: Iterable[str]) -> tuple[str, ...]:
    """Required categories without a code, in codebook order."""
    have = {_category(codebook, c) for c in codes}
    return tuple(name for name in codebook.required_categories if name not in have)


def categories_of(codebook: Codebook, codes: Iterable[str]) -> dict[str, str | list[str]]:
    """``{"outcome": "12", "intent": "40"}``; a multi-valued category holds a list (RECORDS.md)."""
    out: dict[str, str | list[str]] = {}
    for code in codes:
        found: Code | None = codebook.lookup(code)
        if found is None:
            continue
        category = codebook.categories.get(found.category)
        if category is not None and category.multiple:
            current = out.setdefault(found.category, [])
            assert isinstance(current, list)
            current.append(code)
        else:
            out[found.category] = code
    return out
