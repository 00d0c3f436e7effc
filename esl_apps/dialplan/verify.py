"""Check rendered files before anything is written: well-formed, FreeSWITCH-shaped, and routing.

Rendering can go wrong in ways no exception reports: an admin's template can drop a tag, or two
configured numbers can overlap so that one silently answers for the other (an E.164 DID and the
same DID without ``+``, a feature code swallowed by another's reason digits). So every build
parses its own output and hunts every configured number through it with the FreeSWITCH model in
:mod:`esl_apps.dialplan.routing`; a number that does not reach its own extension fails the build.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Mapping

from esl_apps.dialplan.model import DialplanModel
from esl_apps.dialplan.routing import Dialplan, DialplanLoadError

__all__ = ["check_structure", "verify"]


def check_structure(relpath: str, text: str, root: ET.Element) -> list[str]:
    """Problems with one file's shape: ``<include>`` root of ``<extension>`` elements, each with a
    name and at least one condition, no ``<context>``; ``<include>`` alone on its line (FreeSWITCH's
    preprocessor drops any line holding ``<include>``/``</include>``, content and all)."""
    problems = []
    if root.tag != "include":
        return [f"{relpath}: root element is <{root.tag}>, expected <include>"]
    for line_no, line in enumerate(text.splitlines(), 1):
        if ("<include>" in line or "</include>" in line) and line.strip() not in ("<include>", "</include>"):
            problems.append(f"{relpath}:{line_no}: <include> must be alone on its line")
        if "<?" in line:
            problems.append(f"{relpath}:{line_no}: FreeSWITCH's preprocessor drops lines containing '<?'")
    for child in root:
        if child.tag == "context":
            problems.append(f"{relpath}: drop-in files must not contain <context>")
        elif child.tag == "extension":
            if not child.get("name"):
                problems.append(f"{relpath}: an <extension> has no name")
            if child.find("condition") is None:
                problems.append(f"{relpath}: extension {child.get('name')!r} has no <condition>")
    return problems


def verify(model: DialplanModel, files: Mapping[str, str]) -> list[str]:
    """Every problem found in the rendered ``files`` (relative path -> text); empty when sound."""
    problems: list[str] = []
    dialplan = Dialplan()
    for relpath in sorted(files):  # per context, FreeSWITCH's include glob order
        text = files[relpath]
        try:
            root = ET.fromstring(text)
        except ET.ParseError as exc:
            problems.append(f"{relpath}: not well-formed XML: {exc}")
            continue
        shape = check_structure(relpath, text, root)
        problems.extend(shape)
        if shape:
            continue
        context = relpath.split("/", 1)[0]
        try:
            extensions = dialplan.add_root(context, root, relpath)
        except DialplanLoadError as exc:
            problems.append(str(exc))
            continue
        counts = Counter(ext.name for ext in extensions)
        dupes = sorted(name for name, count in counts.items() if count > 1)
        if dupes:
            problems.append(f"{relpath}: extension names used twice: {', '.join(dupes[:10])}")
    if problems:
        return problems
    for context, number, expected in model.expectations():
        route = dialplan.route(context, number)
        if route.extension != expected:
            got = f"extension {route.extension!r}" if route.extension else "no extension"
            problems.append(f"dialling {number} in context {context} reaches {got} instead of {expected!r}")
    return problems
