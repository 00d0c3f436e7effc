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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from esl_apps.dialplan.routing_types import (
    Action,
    Condition,
    DialplanLoadError,
    Extension,
    UnsupportedDialplan,
    pcre_to_python,
)
from esl_apps.dialplan.xmlload import parse_file

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
    "pcre_to_python",
]

_SUBST = re.compile(r"\$(?:(\d+)|\{(\d+)\})")
_VAR = re.compile(r"\$\{([^{}]+)\}")


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
    literal: list[bool] = field(default_factory=list)

    def add(self, ext: Extension) -> None:
        index = len(self.extensions)
        self.extensions.append(ext)
        literals = ext.literals()
        self.literal.append(literals is not None)
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

    def add_extensions(self, extensions: Iterable[Extension]) -> None:
        for ext in extensions:
            self._contexts.setdefault(ext.context, _Context()).add(ext)

    def bad_expressions(self) -> list[str]:
        """Expressions that do not compile (reported by the build instead of failing a call)."""
        problems = []
        for ctx in self._contexts.values():
            for index in ctx.general:
                ext = ctx.extensions[index]
                for expression in _expressions(ext.conditions):
                    try:
                        pcre_to_python(expression)
                    except re.error as exc:
                        where = f"{ext.file}: extension {ext.name!r}"
                        problems.append(f"{where}: bad expression {expression!r}: {exc}")
        return problems

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
        fast = "\n" not in destination
        for index in ctx.candidates(destination):
            ext = ctx.extensions[index]
            if fast and ctx.literal[index]:  # found by exact number: it matches, nothing to substitute
                actions.extend(ext.conditions[0].actions)
                matched.append(ext.name)
                if not ext.continue_:
                    break
            elif _parse_exten(ext.conditions, profile, variables, actions, nested=False, require=True):
                matched.append(ext.name)
                if not ext.continue_:
                    break
        return Route(context, destination, tuple(matched), tuple(actions))


def _expressions(conditions: tuple[Condition, ...]) -> Iterable[str]:
    for cond in conditions:
        if cond.field is not None and "${" not in cond.expression:
            yield cond.expression
        yield from _expressions(cond.nested)


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
        if (not anti and cond.brk == "on-true") or (anti and cond.brk == "on-false") or cond.brk == "always":
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
