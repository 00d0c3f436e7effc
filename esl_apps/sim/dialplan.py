"""The emulator's dialplan: contexts of extensions, each a destination condition plus actions.

The model is the subset of FreeSWITCH's XML dialplan that generated dialplans use: one condition on
``destination_number`` (a PCRE searched in the number, ``$1``... substituted into the actions) and
``<action application= data=/>`` lists. ``load_xml`` reads such files, so the XML that
``esl-apps build`` generates can be run as it is.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

Action = tuple[str, str]

_REGEX_CHARS = re.compile(r"[\^$\\.*+?()\[\]{}|]")


class DialplanError(ValueError):
    """A dialplan file the emulator cannot read (names the file and what is wrong)."""


@dataclass(frozen=True)
class Extension:
    name: str
    expression: str  # exact number or regex
    actions: tuple[Action, ...]
    context: str = "public"
    is_regex: bool = False
    continue_on_match: bool = False  # XML continue="true": later extensions run as well
    source: str | None = None  # the XML file it came from (reloadxml re-reads those)

    def match(self, destination: str) -> re.Match[str] | bool | None:
        if not self.is_regex:
            return destination == self.expression
        return re.search(self.expression, destination)


def substitute(arg: str, match: re.Match[str] | bool | None) -> str:
    """Replace $1..$9 with the condition's groups, as FreeSWITCH does for action data."""
    if not isinstance(match, re.Match) or "$" not in arg:
        return arg

    def group(m: re.Match[str]) -> str:
        index = int(m.group(1))
        try:
            return match.group(index) or ""
        except IndexError:
            return ""

    return re.sub(r"\$(\d)", group, arg)


@dataclass
class Dialplan:
    contexts: dict[str, list[Extension]] = field(default_factory=dict)
    # Actions every call entering a context runs first (FreeSWITCH's stock public context sets
    # outside_call and exports RFC2822_DATE; traces 06a/06b show them on every call).
    preambles: dict[str, list[Callable[[], Action]]] = field(default_factory=dict)

    def add(self, number: str, actions: Iterable[Action], context: str = "public",
            name: str | None = None, continue_on_match: bool = False) -> Extension:
        is_regex = bool(_REGEX_CHARS.search(number))
        if is_regex:
            re.compile(number)  # fail now, not when a call arrives
        ext = Extension(name or number, number, tuple((a, d) for a, d in actions), context, is_regex,
                        continue_on_match)
        self.contexts.setdefault(context, []).append(ext)
        return ext

    def remove(self, number: str, context: str = "public") -> None:
        self.contexts[context] = [e for e in self.contexts.get(context, []) if e.expression != number]

    def lookup(self, destination: str, context: str) -> list[Action] | None:
        """Actions for a call to ``destination``: None when no extension matches."""
        actions: list[Action] = []
        matched = False
        for ext in self.contexts.get(context, []):
            m = ext.match(destination)
            if not m:
                continue
            matched = True
            actions.extend((app, substitute(arg, m)) for app, arg in ext.actions)
            if not ext.continue_on_match:
                break
        if not matched:
            return None
        return [make() for make in self.preambles.get(context, [])] + actions

    def load_xml(self, path: str | Path, context: str | None = None) -> int:
        """Add the extensions of a FreeSWITCH dialplan XML file, or of every ``*.xml`` under a
        directory in name order (as ``<X-PRE-PROCESS cmd="include" data="public/*.xml"/>`` reads
        them); returns how many were added. An ``<include>`` of bare extensions belongs to
        ``context``, by default the name of the directory holding the file (``dialplan/public/``)."""
        path = Path(path)
        if path.is_dir():
            return sum(self.load_xml(p, context) for p in sorted(path.rglob("*.xml")))
        try:
            root = ET.parse(path).getroot()
        except (OSError, ET.ParseError) as exc:
            raise DialplanError(f"{path}: {exc}") from exc
        count = 0
        contexts = [root] if root.tag == "context" else list(root.iter("context"))
        for ctx in contexts:
            ctx_name = ctx.get("name", "public")
            for ext in ctx.iter("extension"):
                count += self._load_extension(path, ctx_name, ext)
        if not contexts:
            bare = context or path.parent.name or "public"
            for ext in root.iter("extension"):
                count += self._load_extension(path, bare, ext)
        return count

    def _load_extension(self, path: Path, context: str, ext: ET.Element) -> int:
        name = ext.get("name", "")
        expression = None
        actions: list[Action] = []
        for cond in ext.iter("condition"):
            field_name = cond.get("field", "")
            if field_name in ("destination_number", "${destination_number}") and cond.get("expression"):
                expression = cond.get("expression")
            for action in cond.findall("action"):
                app = action.get("application")
                if not app:
                    raise DialplanError(f"{path}: extension {name!r}: <action> without application")
                actions.append((app, action.get("data", "")))
        if expression is None:
            return 0
        try:
            re.compile(expression)
        except re.error as exc:
            raise DialplanError(f"{path}: extension {name!r}: bad expression {expression!r}: {exc}") from exc
        ext_obj = Extension(name, expression, tuple(actions), context, True,
                            ext.get("continue", "false") == "true", str(path))
        self.contexts.setdefault(context, []).append(ext_obj)
        return 1
