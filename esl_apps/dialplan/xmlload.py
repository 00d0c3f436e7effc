"""Read dialplan XML straight into :mod:`routing`'s extension values, with one expat pass.

``esl-apps build`` re-reads every file it renders (megabytes for a 10,000-agent centre) to prove
the routing, so this skips building an ElementTree (about five times slower) and keeps only what
the hunt needs: extensions, conditions (nested too), actions and anti-actions, in document order.
Character data is read only when the file has elements with content (``<action>data</action>``,
``<expression>``), the only places FreeSWITCH reads it. The handlers are closures over locals
because they run once per element: for 10,000 agents that is ~140,000 calls.
"""

from __future__ import annotations

from xml.parsers import expat

from esl_apps.dialplan.routing_types import (
    BREAKS,
    TIME_ATTRIBUTES,
    Action,
    Condition,
    DialplanLoadError,
    Extension,
    UnsupportedDialplan,
    switch_true,
)

__all__ = ["parse_file"]


class _Cond:
    __slots__ = ("actions", "anti_actions", "attrs", "depth", "expression", "nested")

    def __init__(self, attrs: dict[str, str], depth: int) -> None:
        self.attrs = attrs
        self.depth = depth  # the element depth of this <condition>
        self.actions: list[Action] = []
        self.anti_actions: list[Action] = []
        self.nested: list[Condition] = []
        self.expression: str | None = None

    def build(self) -> Condition:
        attrs = self.attrs
        brk = (attrs.get("break") or "on-false").lower()
        expression = self.expression if self.expression is not None else attrs.get("expression", "")
        return Condition(
            field=attrs.get("field"),
            expression=expression,
            brk=brk if brk in BREAKS else "on-false",
            actions=tuple(self.actions),
            anti_actions=tuple(self.anti_actions),
            nested=tuple(self.nested),
            # On a condition holding nested ones: when false, the nested block never fails it.
            require_nested=switch_true(attrs.get("require-nested", "true")),
        )


def parse_file(text: str, context: str, file: str) -> list[Extension]:
    """Extensions of one include file (``<include>`` root, or a ``<context>`` root)."""
    parser = expat.ParserCreate()
    parser.buffer_text = True
    want_text = "</action>" in text or "</anti-action>" in text or "<expression" in text
    extensions: list[Extension] = []
    stack: list[_Cond] = []  # open <condition> elements, innermost last
    top: list[Condition] = []  # the current extension's top-level conditions
    depth = 0
    ext: dict[str, str] | None = None  # attributes of the open <extension>
    pending: list = []  # [tag, attrs, text parts] of an element whose content is being read

    def fail(message: str, kind: type[DialplanLoadError] = DialplanLoadError) -> None:
        where = f"extension {ext.get('name', 'UNKNOWN')!r}: " if ext is not None else ""
        raise kind(f"{file}:{parser.CurrentLineNumber}: {where}{message}")

    def add_action(tag: str, attrs: dict[str, str], content: str) -> None:
        application = attrs.get("application")
        if not application:
            fail(f"<{tag}> without an application attribute")
        data = content if content.strip() else attrs.get("data", "")
        cond = stack[-1]
        target = cond.actions if tag == "action" else cond.anti_actions
        loops = attrs.get("loop")
        count = int(loops) if loops and loops.isdigit() else 1
        target.extend([Action(application, data)] * count)

    def collect(data: str) -> None:
        if pending:
            pending[2].append(data)

    def start(name: str, attrs: dict[str, str]) -> None:
        nonlocal depth, ext, context
        depth += 1
        in_condition = bool(stack) and stack[-1].depth == depth - 1  # parent is a <condition>
        if name == "action" and in_condition:
            application = attrs.get("application")
            if not want_text and application and "loop" not in attrs:  # the common case, inline
                stack[-1].actions.append(Action(application, attrs.get("data", "")))
            elif want_text:
                pending[:] = [name, attrs, []]
                parser.CharacterDataHandler = collect
            else:
                add_action(name, attrs, "")
            return
        if depth == 1:
            if name not in ("include", "context"):
                fail(f"root element is <{name}>, expected <include>")
            if name == "context":
                context = attrs.get("name") or context
        elif name == "context":
            fail("a drop-in include file must not contain <context>")
        elif name == "extension" and depth == 2:
            ext = attrs
            top.clear()
        elif name == "condition" and ext is not None and (depth == 3 or in_condition):
            if TIME_ATTRIBUTES.intersection(attrs) or attrs.get("regex"):
                fail("time conditions and regex= groups are not modelled", UnsupportedDialplan)
            stack.append(_Cond(attrs, depth))
        elif in_condition and name in ("anti-action", "expression"):
            if name == "anti-action" and not want_text:
                add_action(name, attrs, "")
            else:
                pending[:] = [name, attrs, []]
                parser.CharacterDataHandler = collect

    def end(name: str) -> None:
        nonlocal depth, ext
        depth -= 1
        if name == "action" and not pending:
            return  # added at its start tag
        if pending and name == pending[0]:
            tag, attrs, parts = pending
            content = "".join(parts)
            if tag == "expression":
                stack[-1].expression = content
            else:
                add_action(tag, attrs, content)
            pending.clear()
            parser.CharacterDataHandler = None
        elif name == "condition" and stack and stack[-1].depth == depth + 1:
            built = stack.pop().build()
            (stack[-1].nested if stack else top).append(built)
        elif name == "extension" and depth == 1 and ext is not None:
            extensions.append(
                Extension(
                    name=ext.get("name", ""),
                    context=context,
                    file=file,
                    conditions=tuple(top),
                    continue_=switch_true(ext.get("continue")),
                )
            )
            ext = None

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    try:
        parser.Parse(text, True)
    except expat.ExpatError as exc:
        raise DialplanLoadError(f"{file}: not well-formed XML: {exc}") from None
    return extensions
