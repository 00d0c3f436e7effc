"""Build plain data and key marks from libyaml events (the engine behind ``yamlmarks``).

See ``yamlmarks`` for the rules this applies. The event loop is written out long-hand on purpose:
a 10,000-agent file is ~200,000 events, and a method call per event doubles the time.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.events import (
    AliasEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)
from yaml.nodes import ScalarNode

from esl_apps.config.errors import ConfigIssue, KeyPath, format_key_path

__all__ = ["Marks", "TooLarge", "build"]

Marks = dict[KeyPath, tuple[int, int]]

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_TAG = "tag:yaml.org,2002:"
_INT = re.compile(r"-?(?:0|[1-9][0-9]*)")
_FLOAT = re.compile(r"-?(?:[0-9]+\.[0-9]*|\.[0-9]+|[0-9]+(?=[eE]))(?:[eE][-+]?[0-9]+)?")
_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?"
    r"(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?"
)
_SPECIAL_FLOATS = {".inf": float("inf"), "-.inf": float("-inf"), "+.inf": float("inf"), ".nan": float("nan")}
_NULLS = frozenset({"~", "null", "Null", "NULL"})
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_MAX_NODES = 1_000_000  # aliases can multiply a document ("billion laughs"); stop well before that
_DISCARD, _MERGE, _PENDING = object(), object(), object()


class TooLarge(Exception):
    """The document expands (through aliases) past the size limit."""


class _Frame:
    """One open mapping or sequence while events stream in."""

    __slots__ = ("anchor", "container", "is_key", "key", "mark", "merges", "path", "record", "size")

    def __init__(self, container: Any, path: KeyPath, record: bool, anchor: str | None, mark: Any) -> None:
        self.container = container
        self.path = path
        self.record = record  # False under a discarded key or inline merge: its marks mean nothing
        self.anchor = anchor
        self.mark = mark
        self.key: Any = None  # mapping only: the key waiting for its value
        self.merges: list[tuple[Any, Any, KeyPath | None]] = []
        self.size = 1
        self.is_key = False  # a list or mapping used as a mapping key: built, then thrown away


class _Builder:
    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.marks: Marks = {(): (1, 1)}
        self.issues: list[ConfigIssue] = []
        self.anchors: dict[str, Any] = {}  # anchor -> (value, size, path) or _PENDING while open
        self.stack: list[_Frame] = []
        self.expanded = 0
        self.root: Any = None
        self._constructor = SafeConstructor()

    def issue(self, mark: Any, path: KeyPath, message: str) -> None:
        self.issues.append(
            ConfigIssue(self.filename, mark.line + 1, mark.column + 1, format_key_path(path), message)
        )

    # -- where the next value goes
    def child_path(self) -> tuple[KeyPath, bool]:
        if not self.stack:
            return (), True
        frame = self.stack[-1]
        if type(frame.container) is list:
            return (*frame.path, len(frame.container)), frame.record
        key = frame.key
        if key is _DISCARD or key is _MERGE:
            return frame.path, False
        return (*frame.path, key), frame.record

    def add(
        self, value: Any, size: int, mark: Any, anchor: str | None, source: KeyPath | None = None
    ) -> None:
        self.expanded += size
        if self.expanded > _MAX_NODES:
            raise TooLarge
        path = self.child_path()[0]
        if anchor is not None:
            self.anchors[anchor] = (value, size, path)
        if not self.stack:
            self.root = value
            return
        frame = self.stack[-1]
        frame.size += size
        if type(frame.container) is list:
            if frame.record:
                self.marks[path] = (mark.line + 1, mark.column + 1)
            frame.container.append(value)
            return
        key, frame.key = frame.key, None
        if key is _MERGE:
            frame.merges.append((value, mark, source))
        elif key is not _DISCARD:
            frame.container[key] = value

    def key_event(self, event: Any) -> bool:
        """Handle a mapping key; True when the event was consumed as a key."""
        frame = self.stack[-1] if self.stack else None
        if frame is None or type(frame.container) is not dict or frame.key is not None:
            return False
        if type(event) is ScalarEvent:
            text = event.value
            if text == "<<" and not event.style and event.tag is None:
                frame.key = _MERGE
                return True
            path = (*frame.path, text)
            if text in frame.container:
                first = self.marks.get(path, (0, 0))[0]
                where = f" (first defined on line {first})" if first else ""
                self.issue(event.start_mark, path, f"duplicate key {text!r}{where}")
                frame.key = _DISCARD
                return True
            if frame.record:
                self.marks[path] = (event.start_mark.line + 1, event.start_mark.column + 1)
            frame.key = text
            return True
        self.issue(
            event.start_mark, frame.path, "a mapping key must be plain text, not a list, mapping or alias"
        )
        frame.key = _DISCARD
        if type(event) is not AliasEvent:
            container: Any = [] if type(event) is SequenceStartEvent else {}
            key_frame = _Frame(container, frame.path, False, None, event.start_mark)
            key_frame.is_key = True
            self.stack.append(key_frame)
        return True

    def start(self, event: Any, container: Any) -> None:
        tag = event.tag
        kind = "seq" if type(container) is list else "map"
        path, record = self.child_path()
        if tag is not None and tag != "!" and tag != _TAG + kind:
            self.issue(event.start_mark, path, f"unsupported YAML tag {tag!r}")
        if event.anchor is not None:
            self.anchors[event.anchor] = _PENDING
        self.stack.append(_Frame(container, path, record, event.anchor, event.start_mark))

    def end(self) -> None:
        frame = self.stack.pop()
        if frame.merges:
            self.merge(frame)
        if frame.is_key:
            self.stack[-1].key = _DISCARD  # the value that follows belongs to the rejected key
            return
        self.add(frame.container, frame.size, frame.mark, frame.anchor)

    def merge(self, frame: _Frame) -> None:
        """``<<: *defaults``: explicit keys win; earlier merges win over later ones."""
        for value, mark, source in frame.merges:
            sources = value if isinstance(value, list) else [value]
            for item in sources:
                if not isinstance(item, dict):
                    self.issue(mark, frame.path, "'<<' (merge) needs a mapping or a list of mappings")
                    continue
                for key, item_value in item.items():
                    if key in frame.container:
                        continue
                    frame.container[key] = item_value
                    if frame.record:
                        origin = self.marks.get((*source, key)) if source is not None else None
                        self.marks[(*frame.path, key)] = origin or (mark.line + 1, mark.column + 1)

    def alias(self, event: Any) -> None:
        found = self.anchors.get(event.anchor)
        if found is None:
            self.issue(event.start_mark, self.child_path()[0], f"unknown alias *{event.anchor}")
            self.add(None, 1, event.start_mark, None)
        elif found is _PENDING:
            self.issue(
                event.start_mark, self.child_path()[0], "recursive YAML alias (an anchor used inside itself)"
            )
            self.add(None, 1, event.start_mark, None)
        else:
            value, size, source = found
            self.add(value, size, event.start_mark, None, source)

    def scalar(self, event: Any) -> Any:
        tag, text = event.tag, event.value
        if tag is None:
            if event.style:  # '' or None is plain; quoted and block scalars are always text
                return text
            value = _plain(text)
            if type(value) is str and text[:1].isdigit() and _TIMESTAMP.fullmatch(text):
                return self.timestamp(event)
            return value
        if tag == "!" or tag == _TAG + "str":
            return text
        kind = tag[len(_TAG) :] if tag.startswith(_TAG) else None
        if kind == "null":
            return None
        if kind == "bool" and text.lower() in ("true", "false"):
            return text.lower() == "true"
        if kind == "int" and _INT.fullmatch(text):
            return int(text)
        if kind == "float" and (_FLOAT.fullmatch(text) or text.lower() in _SPECIAL_FLOATS):
            return _SPECIAL_FLOATS.get(text.lower()) or float(text)
        if kind == "timestamp":
            return self.timestamp(event)
        self.issue(event.start_mark, self.child_path()[0], f"unsupported YAML tag {tag!r} for {text!r}")
        return text

    def timestamp(self, event: Any) -> Any:
        try:
            return self._constructor.construct_yaml_timestamp(ScalarNode(_TAG + "timestamp", event.value))
        except (ValueError, TypeError, OverflowError):
            self.issue(
                event.start_mark, self.child_path()[0], f"{event.value!r} looks like a date but is not one"
            )
            return event.value

    def feed(self, event: Any) -> None:
        kind = type(event)
        if kind is MappingEndEvent or kind is SequenceEndEvent:
            self.end()
            return
        if kind not in _NODE_EVENTS or (self.stack and self.key_event(event)):
            return  # stream/document boundaries, or a mapping key (handled by key_event)
        if kind is ScalarEvent:
            self.add(self.scalar(event), 1, event.start_mark, event.anchor)
        elif kind is MappingStartEvent:
            self.start(event, {})
        elif kind is SequenceStartEvent:
            self.start(event, [])
        else:
            self.alias(event)


_NODE_EVENTS = frozenset({ScalarEvent, MappingStartEvent, SequenceStartEvent, AliasEvent})


def _plain(text: str) -> Any:
    """Resolve an unquoted scalar (see the module docstring for the rules)."""
    if not text:
        return None
    first = text[0]
    if first in "0123456789-.+":
        if _INT.fullmatch(text):
            return int(text)
        if _FLOAT.fullmatch(text):
            return float(text)
        return _SPECIAL_FLOATS.get(text.lower(), text)
    if first in "~nN":
        return None if text in _NULLS else text
    if first in "tTfF":
        return _BOOLS.get(text, text)
    return text


def build(text: str, filename: str) -> tuple[Any, Marks, list[ConfigIssue]]:
    """Data, marks and issues for one document.

    Raises ``yaml.YAMLError`` for a syntax error and :class:`TooLarge` for an alias bomb.
    """
    builder = _Builder(filename)
    documents = 0
    stack, marks = builder.stack, builder.marks
    for event in yaml.parse(text, Loader=_Loader):
        # Fast path, inlined for speed: a plain, untagged, unanchored scalar in an open
        # mapping or list (almost every event). Everything else goes through builder.feed.
        if type(event) is ScalarEvent and stack and event.anchor is None and event.tag is None:
            frame = stack[-1]
            container = frame.container
            key = frame.key
            mark = event.start_mark
            if type(container) is dict:
                if key is None:
                    key_text = event.value
                    if key_text not in container and key_text != "<<":
                        if frame.record:
                            marks[(*frame.path, key_text)] = (mark.line + 1, mark.column + 1)
                        frame.key = key_text
                        continue
                elif key is not _DISCARD and key is not _MERGE:
                    container[key] = builder.scalar(event)
                    frame.key = None
                    frame.size += 1
                    continue
            else:
                if frame.record:
                    marks[(*frame.path, len(container))] = (mark.line + 1, mark.column + 1)
                container.append(builder.scalar(event))
                frame.size += 1
                continue
        kind = type(event)
        if (kind is MappingStartEvent or kind is SequenceStartEvent) and stack:
            frame = stack[-1]
            if event.anchor is None and event.tag is None and frame.key is not _MERGE:
                container = frame.container
                if type(container) is list:
                    path = (*frame.path, len(container))
                elif frame.key is not None and frame.key is not _DISCARD:
                    path = (*frame.path, frame.key)
                else:
                    path = None  # a key that is a collection, or a discarded value: slow path
                if path is not None:
                    new = {} if kind is MappingStartEvent else []
                    stack.append(_Frame(new, path, frame.record, None, event.start_mark))
                    continue
        elif (kind is MappingEndEvent or kind is SequenceEndEvent) and len(stack) > 1:
            frame = stack[-1]
            parent = stack[-2]
            if not frame.merges and not frame.is_key and frame.anchor is None and parent.key is not _MERGE:
                stack.pop()
                parent.size += frame.size
                container = parent.container
                if type(container) is list:
                    if parent.record:
                        marks[frame.path] = (frame.mark.line + 1, frame.mark.column + 1)
                    container.append(frame.container)
                    continue
                key, parent.key = parent.key, None
                if key is not _DISCARD:
                    container[key] = frame.container
                continue
        if kind is DocumentStartEvent:
            documents += 1
            if documents > 1:
                mark = event.start_mark
                issue = ConfigIssue(
                    filename,
                    mark.line + 1,
                    mark.column + 1,
                    "(root)",
                    "only one YAML document per file (remove the second '---')",
                )
                return None, {(): (1, 1)}, [issue]
            continue
        builder.feed(event)
    return builder.root, builder.marks, sorted(set(builder.issues), key=lambda i: (i.line, i.column))
