"""YAML to plain data plus the line/column of every key, so errors can say file:line:column.

The C composer (libyaml) builds the node tree; this module turns nodes into dicts/lists itself
instead of using PyYAML's constructor, for three reasons:

* marks: every mapping key and sequence item's position is recorded under its key path;
* duplicate keys are errors (PyYAML silently keeps the last one, hiding a typo'd copy);
* scalars follow what an admin means, not YAML 1.1's surprises: mapping keys are always the text
  as written (``1:`` is ``"1"``, ``on:`` is ``"on"``); ``yes``/``no``/``on``/``off`` stay strings
  (pydantic still reads them as booleans where a boolean is expected, but a country code ``no``
  stays ``"no"``); numbers with a leading zero or ``+`` (``0123``, ``+4420...``) stay strings, so
  extensions and phone numbers never lose digits; ``1:30`` is not the sexagesimal number 90.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from esl_apps.config.errors import ConfigError, ConfigIssue, KeyPath, format_key_path

__all__ = ["Marks", "load_yaml", "parse_yaml"]

Marks = dict[KeyPath, tuple[int, int]]

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_TAG = "tag:yaml.org,2002:"
_INT = re.compile(r"-?(?:0|[1-9][0-9]*)")
_FLOAT = re.compile(r"-?(?:[0-9]+\.[0-9]*|\.[0-9]+|[0-9]+(?=[eE]))(?:[eE][-+]?[0-9]+)?")
_SPECIAL_FLOATS = {".inf": float("inf"), "-.inf": float("-inf"), "+.inf": float("inf"), ".nan": float("nan")}
_MAX_NODES = 2_000_000  # alias bombs ("billion laughs") stop here instead of eating memory


class _Builder:
    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.marks: Marks = {(): (1, 1)}
        self.issues: list[ConfigIssue] = []
        self._constructor = SafeConstructor()
        self._active: set[int] = set()
        self._count = 0

    def issue(self, node: Node, path: KeyPath, message: str) -> None:
        mark = node.start_mark
        self.issues.append(
            ConfigIssue(self.filename, mark.line + 1, mark.column + 1, format_key_path(path), message)
        )

    def build(self, node: Node, path: KeyPath) -> Any:
        self._count += 1
        if self._count > _MAX_NODES:
            raise _TooLarge
        if isinstance(node, ScalarNode):
            return self.scalar(node, path)
        if id(node) in self._active:  # an alias pointing at one of its own ancestors
            self.issue(node, path, "recursive YAML alias (an anchor used inside itself)")
            return None
        self._active.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                self.check_tag(node, path, "seq")
                items = []
                for index, child in enumerate(node.value):
                    child_path = (*path, index)
                    self.marks[child_path] = (child.start_mark.line + 1, child.start_mark.column + 1)
                    items.append(self.build(child, child_path))
                return items
            assert isinstance(node, MappingNode)
            return self.mapping(node, path)
        finally:
            self._active.discard(id(node))

    def mapping(self, node: MappingNode, path: KeyPath) -> dict[str, Any]:
        self.check_tag(node, path, "map")
        result: dict[str, Any] = {}
        merges: list[Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _TAG + "merge":
                merges.append(value_node)
                continue
            if not isinstance(key_node, ScalarNode):
                self.issue(key_node, path, "a mapping key must be plain text, not a list or mapping")
                continue
            key = str(key_node.value)
            key_path = (*path, key)
            if key in result:
                first_line = self.marks[key_path][0]
                self.issue(key_node, key_path, f"duplicate key {key!r} (first defined on line {first_line})")
                continue
            self.marks[key_path] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            result[key] = self.build(value_node, key_path)
        for merge in merges:  # `<<: *defaults`: explicit keys win, earlier merges win over later ones
            sources = merge.value if isinstance(merge, SequenceNode) else [merge]
            for source in sources:
                if not isinstance(source, MappingNode):
                    self.issue(source, path, "'<<' (merge) needs a mapping or a list of mappings")
                    continue
                if id(source) in self._active:
                    self.issue(source, path, "recursive YAML alias (an anchor merged into itself)")
                    continue
                own_marks, self.marks = self.marks, {}
                try:
                    merged = self.mapping(source, path)
                finally:
                    merged_marks, self.marks = self.marks, own_marks
                depth = len(path) + 1
                for key, value in merged.items():
                    if key in result:
                        continue
                    result[key] = value
                    for mark_path, mark in merged_marks.items():
                        if mark_path[:depth] == (*path, key):
                            self.marks.setdefault(mark_path, mark)
        return result

    def check_tag(self, node: Node, path: KeyPath, kind: str) -> None:
        if node.tag != _TAG + kind:
            self.issue(node, path, f"unsupported YAML tag {node.tag!r}")

    def scalar(self, node: ScalarNode, path: KeyPath) -> Any:
        tag, text = node.tag, node.value
        if not tag.startswith(_TAG):
            self.issue(node, path, f"unsupported YAML tag {tag!r}")
            return text
        kind = tag[len(_TAG) :]
        if kind == "str":
            return text
        if kind == "null":
            return None
        if kind == "bool":
            lowered = text.lower()
            return lowered == "true" if lowered in ("true", "false") else text
        if kind == "int":
            return int(text) if _INT.fullmatch(text) else text
        if kind == "float":
            if text.lower() in _SPECIAL_FLOATS:
                return _SPECIAL_FLOATS[text.lower()]
            return float(text) if _FLOAT.fullmatch(text) else text
        if kind == "timestamp":
            try:
                return self._constructor.construct_yaml_timestamp(node)
            except (ValueError, TypeError, OverflowError):
                self.issue(node, path, f"{text!r} looks like a date but is not a valid one")
                return text
        self.issue(node, path, f"unsupported YAML type !!{kind}")
        return text


class _TooLarge(Exception):
    pass


def _syntax_issue(filename: str, text: str, exc: Exception) -> ConfigIssue:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if mark is not None:
        line, column = mark.line + 1, mark.column + 1
    else:
        position = getattr(exc, "position", None)
        if isinstance(position, int):
            before = text[:position]
            line, column = before.count("\n") + 1, position - (before.rfind("\n") + 1) + 1
        else:
            line, column = 1, 1
    problem = getattr(exc, "problem", None) or getattr(exc, "reason", None) or str(exc)
    context = getattr(exc, "context", None)
    message = f"YAML syntax error: {problem}" + (f" ({context})" if context else "")
    return ConfigIssue(filename, line, column, "(root)", message)


def parse_yaml(text: str, filename: str) -> tuple[Any, Marks, list[ConfigIssue]]:
    """Parse one YAML document; never raises for bad input, problems come back as issues."""
    try:
        loader = _Loader(text)
        try:
            root = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        return None, {(): (1, 1)}, [_syntax_issue(filename, text, exc)]
    if root is None:
        return None, {(): (1, 1)}, []
    builder = _Builder(filename)
    try:
        data = builder.build(root, ())
    except _TooLarge:
        issue = ConfigIssue(filename, 1, 1, "(root)", "document expands to too many nodes (alias bomb?)")
        return None, {(): (1, 1)}, [issue]
    except RecursionError:
        issue = ConfigIssue(filename, 1, 1, "(root)", "document is nested too deeply")
        return None, {(): (1, 1)}, [issue]
    return data, builder.marks, sorted(set(builder.issues), key=lambda i: (i.line, i.column))


def read_text(path: Path, display: str) -> tuple[str | None, list[ConfigIssue]]:
    """The file's text, or an issue saying why it cannot be read (missing, not UTF-8 ...)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None, [ConfigIssue(display, 1, 1, "(root)", "file not found")]
    except OSError as exc:
        return None, [ConfigIssue(display, 1, 1, "(root)", f"cannot read file: {exc.strerror}")]
    try:
        return raw.decode("utf-8-sig"), []
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        column = exc.start - (before.rfind(b"\n") + 1) + 1
        return None, [ConfigIssue(display, line, column, "(root)", "file is not valid UTF-8 text")]


def load_yaml(path: Path | str) -> tuple[Any, Marks]:
    """Load one YAML file with marks; raises :class:`ConfigError` listing every problem found."""
    path = Path(path)
    text, issues = read_text(path, str(path))
    if text is None:
        raise ConfigError(issues)
    data, marks, issues = parse_yaml(text, str(path))
    if issues:
        raise ConfigError(issues)
    return data, marks
