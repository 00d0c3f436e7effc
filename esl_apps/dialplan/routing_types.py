"""Values of the dialplan model (extensions, conditions, actions) and the FreeSWITCH rules they
share between the XML reader (:mod:`xmlload`) and the hunt (:mod:`routing`).

The values are NamedTuples rather than frozen dataclasses: equally immutable, and several times
cheaper to create, which matters when a build reads back 10,000 extensions.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

__all__ = [
    "BREAKS",
    "TIME_ATTRIBUTES",
    "Action",
    "Condition",
    "DialplanLoadError",
    "Extension",
    "UnsupportedDialplan",
    "pcre_to_python",
    "switch_true",
]

TIME_ATTRIBUTES = frozenset(
    {
        "year",
        "yday",
        "mon",
        "mday",
        "week",
        "mweek",
        "wday",
        "hour",
        "minute",
        "minute-of-day",
        "time-of-day",
        "date-time",
        "tz",
    }
)
BREAKS = frozenset({"on-false", "on-true", "always", "never"})
# ^ + literal characters (letters, digits, escaped punctuation) + optional \+? prefix + $
_LITERAL = re.compile(r"\^(\\\+\?)?((?:[A-Za-z0-9_]|\\[^A-Za-z0-9])+)\$")
_UNESCAPE = re.compile(r"\\(.)")


class DialplanLoadError(ValueError):
    """A dialplan file that is not well-formed or not an <include>/<context> of extensions."""


class UnsupportedDialplan(DialplanLoadError):
    """A construct this model does not evaluate (time conditions, regex groups)."""


def switch_true(value: str | None) -> bool:
    """FreeSWITCH's ``switch_true``: the words it accepts, or a non-zero number."""
    if not value:
        return False
    value = value.strip().lower()
    if value in ("yes", "on", "true", "t", "enabled", "active", "allow"):
        return True
    return value.isdigit() and int(value) != 0


@lru_cache(maxsize=4096)
def pcre_to_python(expression: str) -> re.Pattern[str]:
    """Compile a FreeSWITCH (PCRE) expression with Python's ``re``, translating the PCRE-only
    spellings the two disagree on: ``(?<name>`` named groups, ``\\z``, ``\\h`` and ``\\Q...\\E``.
    ``re.ASCII`` because PCRE's ``\\d``/``\\w`` are ASCII-only without UCP, as FreeSWITCH builds it.
    """
    out: list[str] = []
    i, n = 0, len(expression)
    while i < n:
        ch = expression[i]
        if ch == "\\" and i + 1 < n:
            nxt = expression[i + 1]
            if nxt == "Q":
                end = expression.find("\\E", i + 2)
                end = n if end < 0 else end
                out.append(re.escape(expression[i + 2 : end]))
                i = end + 2
                continue
            out.append({"z": r"\Z", "h": r"[ \t]", "H": r"[^ \t]"}.get(nxt, ch + nxt))
            i += 2
            continue
        if expression.startswith("(?<", i) and i + 3 < n and expression[i + 3] not in "=!":
            out.append("(?P<")
            i += 3
            continue
        out.append(ch)
        i += 1
    return re.compile("".join(out), re.ASCII)


class Action(NamedTuple):
    application: str
    data: str = ""


class Condition(NamedTuple):
    field: str | None
    expression: str
    brk: str = "on-false"
    actions: tuple[Action, ...] = ()
    anti_actions: tuple[Action, ...] = ()
    nested: tuple[Condition, ...] = ()  # type: ignore[misc]  # a NamedTuple may nest itself
    require_nested: bool = True


class Extension(NamedTuple):
    name: str
    context: str
    file: str
    conditions: tuple[Condition, ...]
    continue_: bool = False

    def literals(self) -> tuple[str, ...] | None:
        """The exact destination numbers this extension matches, when an exact match on
        ``destination_number`` is all it does (``^1001$``, ``^\\+?4420...$``): the hunt's fast path."""
        if len(self.conditions) != 1:
            return None
        cond = self.conditions[0]
        if cond.field != "destination_number" or cond.nested or cond.anti_actions:
            return None
        match = _LITERAL.fullmatch(cond.expression)
        if match is None:
            return None
        literal = _UNESCAPE.sub(r"\1", match.group(2))
        return (literal, "+" + literal) if match.group(1) else (literal,)
