"""Which extension does FreeSWITCH pick for a dialled number? A model of mod_dialplan_xml's hunt.

Used by ``esl-apps build`` to prove that every configured number reaches the extension generated
for it (and nothing earlier captures it), and by the tests. It follows FreeSWITCH's hunt as
implemented in ``mod_dialplan_xml.c`` (``dialplan_hunt``/``parse_exten``):

* the files of a context are read in name order, as the ``X-PRE-PROCESS include`` glob sorts them
  (``*.xml``, dot files excluded), and extensions are tried in document order;
* a condition's ``expression`` is a PCRE *searched* in the field (unanchored unless it anchors
  itself); a missing ``field`` with no time attributes is an absolute (true) condition;
* ``break`` = ``on-false`` (default) / ``on-true`` / ``always`` / ``never``; nested conditions;
  ``anti-action`` elements run when a condition fails (and then count as a match, as in FreeSWITCH);
* ``$1``/``${1}`` in action data are replaced by the captures when the expression has a ``(``;
* hunting stops at the first extension that matched, unless it has ``continue="true"``; actions
  accumulate across the extensions tried (also from a condition that passed before a later one
  failed, which is how FreeSWITCH behaves).

Time-of-day conditions and ``regex="all|any|xor"`` are not modelled: loading a file that uses them
raises :class:`UnsupportedDialplan` rather than guessing.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

__all__ = [
    "Action",
    "Condition",
    "Dialplan",
    "DialplanLoadError",
    "Extension",
    "Route",
    "UnsupportedDialplan",
    "load_dialplan",
    "parse_file",
    "parse_root",
    "pcre_to_python",
]

_TIME_ATTRIBUTES = frozenset(
    {"year", "yday", "mon", "mday", "week", "mweek", "wday", "hour", "minute", "minute-of-day",
     "time-of-day", "date-time", "tz"}
)
_BREAKS = frozenset({"on-false", "on-true", "always", "never"})
_SUBST = re.compile(r"\$(?:(\d+)|\{(\d+)\})")
_VAR = re.compile(r"\$\{([^{}]+)\}")
# ^ + literal characters (letters, digits, escaped punctuation) + optional \+? prefix + $
_LITERAL = re.compile(r"\^(\\\+\?)?((?:[A-Za-z0-9_]|\\[^A-Za-z0-9])+)\$")


class DialplanLoadError(ValueError):
    """A dialplan file that is not well-formed or not an <include>/<context> of extensions."""


class UnsupportedDialplan(DialplanLoadError):
    """A construct this model does not evaluate (time conditions, regex groups)."""


@dataclass(frozen=True, slots=True)
class Action:
    application: str
    data: str = ""


@dataclass(frozen=True, slots=True)
class Condition:
    field: str | None
    expression: str
    brk: str = "on-false"
    actions: tuple[Action, ...] = ()
    anti_actions: tuple[Action, ...] = ()
    nested: tuple[Condition, ...] = ()
    require_nested: bool = True


@dataclass(frozen=True, slots=True)
class Extension:
    name: str
    context: str
    file: str
    conditions: tuple[Condition, ...]
    continue_: bool = False

    def literals(self) -> tuple[str, ...] | None:
        """Exact destination numbers this extension matches, when that is all it does (fast path)."""
        if len(self.conditions) != 1:
            return None
        cond = self.conditions[0]
        if cond.field != "destination_number" or cond.nested or cond.anti_actions:
            return None
        match = _LITERAL.fullmatch(cond.expression)
        if match is None:
            return None
        literal = re.sub(r"\\(.)", r"\1", match.group(2))
        return (literal, "+" + literal) if match.group(1) else (literal,)


@dataclass(frozen=True, slots=True)
class Route:
    """The outcome of a hunt: the extensions that matched, in order, and the actions queued."""

    context: str
    destination: str
    matched: tuple[str, ...]
    actions: tuple[Action, ...]

    @property
    def extension(self) -> str | None:
        """The extension that ended the hunt (the last match), None when nothing matched."""
        return self.matched[-1] if self.matched else None

    def applications(self) -> list[str]:
        return [a.application for a in self.actions]


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


def _true(value: str | None) -> bool:
    """FreeSWITCH's ``switch_true``: the words it accepts, or a non-zero number."""
    if not value:
        return False
    value = value.strip().lower()
    if value in ("yes", "on", "true", "t", "enabled", "active", "allow"):
        return True
    return value.isdigit() and int(value) != 0


def _expand(text: str, variables: Mapping[str, str]) -> str:
    if "${" not in text:
        return text
    return _VAR.sub(lambda m: variables.get(m.group(1), ""), text)


def _substitute(data: str, match: re.Match[str]) -> str:
    def group(m: re.Match[str]) -> str:
        index = int(m.group(1) or m.group(2))
        try:
            return match.group(index) or ""
        except IndexError:
            return ""

    return _SUBST.sub(group, data)


# ------------------------------------------------------------------------------------ loading


def _actions(element: ET.Element, tag: str, where: str) -> tuple[Action, ...]:
    result = []
    for action in element.findall(tag):
        application = action.get("application")
        if not application:
            raise DialplanLoadError(f"{where}: <{tag}> without an application attribute")
        data = action.text if action.text and action.text.strip() else action.get("data", "")
        for _ in range(int(action.get("loop", "1") or 1)):
            result.append(Action(application, data))
    return tuple(result)


def _condition(element: ET.Element, where: str) -> Condition:
    if _TIME_ATTRIBUTES & set(element.attrib) or element.get("regex"):
        raise UnsupportedDialplan(f"{where}: time conditions and regex= groups are not modelled")
    brk = (element.get("break") or "on-false").lower()
    if brk not in _BREAKS:
        brk = "on-false"
    expression = element.get("expression")
    child = element.find("expression")
    if child is not None:
        expression = child.text or ""
    # On the condition holding nested ones: when false, the nested block never fails the parent.
    require = _true(element.get("require-nested", "true"))
    try:
        pcre_to_python(expression or "")
    except re.error as exc:
        raise DialplanLoadError(f"{where}: bad expression {expression!r}: {exc}") from None
    return Condition(
        field=element.get("field"),
        expression=expression or "",
        brk=brk,
        actions=_actions(element, "action", where),
        anti_actions=_actions(element, "anti-action", where),
        nested=tuple(_condition(c, where) for c in element.findall("condition")),
        require_nested=require,
    )


def _extensions(root: ET.Element, context: str, file: str) -> list[Extension]:
    result = []
    for ext in root.findall("extension"):
        name = ext.get("name") or "UNKNOWN"
        where = f"{file}: extension {name!r}"
        result.append(
            Extension(
                name=name,
                context=context,
                file=file,
                conditions=tuple(_condition(c, where) for c in ext.findall("condition")),
                continue_=_true(ext.get("continue")),
            )
        )
    return result


def parse_file(text: str, context: str, file: str) -> list[Extension]:
    """Extensions of one include file (``<include>`` root, or a ``<context>`` root)."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise DialplanLoadError(f"{file}: not well-formed XML: {exc}") from None
    return parse_root(root, context, file)


def parse_root(root: ET.Element, context: str, file: str) -> list[Extension]:
    """Extensions of an already parsed include file (the caller also inspects the tree)."""
    if root.tag == "context":
        return _extensions(root, root.get("name") or context, file)
    if root.tag != "include":
        raise DialplanLoadError(f"{file}: root element is <{root.tag}>, expected <include>")
    if root.find("context") is not None:
        raise DialplanLoadError(f"{file}: a drop-in include file must not contain <context>")
    return _extensions(root, context, file)


def load_dialplan(directory: Path) -> Dialplan:
    """Load ``directory/<context>/*.xml`` (the ``esl-apps build --out`` layout)."""
    dialplan = Dialplan()
    for context_dir in sorted(p for p in Path(directory).iterdir() if p.is_dir()):
        for path in sorted(context_dir.glob("*.xml")):
            if path.name.startswith("."):
                continue
            dialplan.add_file(context_dir.name, path.read_text(encoding="utf-8"), str(path))
    return dialplan


# -------------------------------------------------------------------------------------- hunting


@dataclass
class _Context:
    extensions: list[Extension] = field(default_factory=list)
    by_literal: dict[str, list[int]] = field(default_factory=dict)
    general: list[int] = field(default_factory=list)

    def add(self, ext: Extension) -> None:
        index = len(self.extensions)
        self.extensions.append(ext)
        literals = ext.literals()
        if literals is None:
            self.general.append(index)
        else:
            for literal in literals:
                self.by_literal.setdefault(literal, []).append(index)

    def candidates(self, destination: str) -> list[int]:
        if "\n" in destination:  # `$` also matches before a final newline: no fast path
            return list(range(len(self.extensions)))
        exact = self.by_literal.get(destination)
        return sorted([*self.general, *exact]) if exact else self.general


class Dialplan:
    """Contexts of extensions in hunt order; :meth:`route` answers "what runs for this number"."""

    def __init__(self) -> None:
        self._contexts: dict[str, _Context] = {}

    @property
    def contexts(self) -> dict[str, list[Extension]]:
        return {name: ctx.extensions for name, ctx in self._contexts.items()}

    def add_file(self, context: str, text: str, file: str) -> list[Extension]:
        extensions = parse_file(text, context, file)
        self.add_extensions(extensions)
        return extensions

    def add_root(self, context: str, root: ET.Element, file: str) -> list[Extension]:
        extensions = parse_root(root, context, file)
        self.add_extensions(extensions)
        return extensions

    def add_extensions(self, extensions: Iterable[Extension]) -> None:
        for ext in extensions:
            self._contexts.setdefault(ext.context, _Context()).add(ext)

    def route(
        self,
        context: str,
        destination: str,
        fields: Mapping[str, str] | None = None,
        variables: Mapping[str, str] | None = None,
    ) -> Route:
        """Hunt ``destination`` in ``context``; ``fields`` are other caller-profile fields
        (caller_id_number ...), ``variables`` channel variables for ``${...}`` fields."""
        ctx = self._contexts.get(context)
        if ctx is None:
            return Route(context, destination, (), ())
        profile = {"destination_number": destination, "context": context, **(fields or {})}
        variables = variables or {}
        matched: list[str] = []
        actions: list[Action] = []
        for index in ctx.candidates(destination):
            ext = ctx.extensions[index]
            if _parse_exten(ext.conditions, profile, variables, actions, nested=False, require=True):
                matched.append(ext.name)
                if not ext.continue_:
                    break
        return Route(context, destination, tuple(matched), tuple(actions))


def _field_value(name: str, profile: Mapping[str, str], variables: Mapping[str, str]) -> str:
    if "$" in name:
        return _expand(name, variables)
    return profile.get(name, "")


def _parse_exten(
    conditions: tuple[Condition, ...],
    profile: Mapping[str, str],
    variables: Mapping[str, str],
    actions: list[Action],
    *,
    nested: bool,
    require: bool,
) -> bool:
    """One extension (or nested condition block), as ``parse_exten``: the value is ``proceed``."""
    proceed = False
    for cond in conditions:
        match: re.Match[str] | None = None
        if cond.field is None:
            passed = True  # absolute condition
        else:
            value = _field_value(cond.field, profile, variables)
            match = pcre_to_python(_expand(cond.expression, variables)).search(value)
            passed = match is not None
        proceed = passed
        if not passed:
            if cond.anti_actions:
                actions.extend(cond.anti_actions)
                proceed = True
        else:
            substitute = match is not None and "(" in cond.expression
            for action in cond.actions:
                data = _substitute(action.data, match) if substitute and match else action.data
                actions.append(Action(action.application, data))
        anti = not passed
        if (
            (not anti and cond.brk == "on-true")
            or (anti and cond.brk == "on-false")
            or cond.brk == "always"
        ):
            break
        if proceed and cond.nested:
            proceed = _parse_exten(
                cond.nested, profile, variables, actions, nested=True, require=cond.require_nested
            )
            if not proceed:
                if cond.brk == "never":
                    continue
                break
    if nested and not require:
        proceed = True
    return proceed
