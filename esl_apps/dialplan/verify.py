"""Check rendered files before anything is written: well-formed, FreeSWITCH-shaped, and routing.

Rendering can go wrong in ways no exception reports: an admin's template can drop a tag, or two
configured numbers can overlap so that one silently answers for the other (an E.164 DID and the
same DID without ``+``, a feature code swallowed by another's reason digits). So every build
parses its own output and hunts every configured number through it with the FreeSWITCH model in
:mod:`esl_apps.dialplan.routing`; a number that does not reach its own extension fails the build.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping

from esl_apps.dialplan.model import DialplanModel
from esl_apps.dialplan.routing import Dialplan, DialplanLoadError

__all__ = ["check_lines", "verify"]


_LINE_HAZARDS = re.compile(r"<include>|</include>|<\?")


def check_lines(relpath: str, text: str) -> list[str]:
    """FreeSWITCH's preprocessor drops every line holding ``<include>``, ``</include>`` or ``<?``,
    content and all: those tags must be alone on their lines, and ``<?`` must not appear."""
    problems = []
    for found in _LINE_HAZARDS.finditer(text):
        start = text.rfind("\n", 0, found.start()) + 1
        end = text.find("\n", found.end())
        line = text[start : end if end >= 0 else len(text)].strip()
        line_no = text.count("\n", 0, found.start()) + 1
        if found.group() == "<?":
            problems.append(f"{relpath}:{line_no}: FreeSWITCH's preprocessor drops lines containing '<?'")
        elif line != found.group():
            problems.append(f"{relpath}:{line_no}: {found.group()} must be alone on its line")
    return problems


def verify(model: DialplanModel, files: Mapping[str, str]) -> list[str]:
    """Every problem found in the rendered ``files`` (relative path -> text); empty when sound."""
    problems: list[str] = []
    dialplan = Dialplan()
    for relpath in sorted(files):  # per context, FreeSWITCH's include glob order
        text = files[relpath]
        if not text.lstrip().startswith("<include>"):
            problems.append(f"{relpath}: must start with <include> (a drop-in include file)")
            continue
        problems.extend(check_lines(relpath, text))
        context = relpath.split("/", 1)[0]
        try:
            extensions = dialplan.add_file(context, text, relpath)
        except DialplanLoadError as exc:
            problems.append(str(exc))
            continue
        for ext in extensions:
            if not ext.name:
                problems.append(f"{relpath}: an <extension> has no name")
            elif not ext.conditions:
                problems.append(f"{relpath}: extension {ext.name!r} has no <condition>")
        counts = Counter(ext.name for ext in extensions)
        dupes = sorted(name for name, count in counts.items() if count > 1)
        if dupes:
            problems.append(f"{relpath}: extension names used twice: {', '.join(dupes[:10])}")
    problems.extend(dialplan.bad_expressions())
    if problems:
        return problems
    for context, number, expected in model.expectations():
        route = dialplan.route(context, number)
        if route.extension != expected:
            got = f"extension {route.extension!r}" if route.extension else "no extension"
            problems.append(f"dialling {number} in context {context} reaches {got} instead of {expected!r}")
    return problems
