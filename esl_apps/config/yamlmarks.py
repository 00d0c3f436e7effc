"""YAML to plain data plus the line/column of every key, so errors can say file:line:column.

libyaml (PyYAML's C parser) produces the events; this module builds dicts and lists from them
itself instead of using PyYAML's composer and constructor, for four reasons:

* marks: every mapping key's and sequence item's position is recorded under its key path;
* duplicate keys are errors (PyYAML silently keeps the last one, hiding a typo'd copy);
* scalars follow what an admin means, not YAML 1.1's surprises: mapping keys are always the text
  as written (``1:`` is ``"1"``, ``on:`` is ``"on"``); ``yes``/``no``/``on``/``off`` stay strings
  (pydantic still reads them as booleans where a boolean is expected, but a country code ``no``
  stays ``"no"``); numbers with a leading zero or ``+`` (``0123``, ``+4420...``) stay strings, so
  extensions and phone numbers never lose digits; ``1:30`` is not the sexagesimal number 90;
* speed: PyYAML's Python resolver and node objects cost ~5x the C parse for a 10,000-agent file.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from esl_apps.config.errors import ConfigError, ConfigIssue
from esl_apps.config.yamlbuild import Marks, TooLarge, build

__all__ = ["Marks", "gc_paused", "load_yaml", "parse_yaml", "read_text"]


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


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many small objects.

    Parsing a 10,000-agent file allocates ~10^6 objects and none of them are garbage yet; the
    collector's generation scans would otherwise take most of the time (~5x slower).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def parse_yaml(text: str, filename: str) -> tuple[Any, Marks, list[ConfigIssue]]:
    """Parse one YAML document; never raises for bad input, problems come back as issues."""
    with gc_paused():
        return _parse_yaml(text, filename)


def _parse_yaml(text: str, filename: str) -> tuple[Any, Marks, list[ConfigIssue]]:
    try:
        return build(text, filename)
    except yaml.YAMLError as exc:
        return None, {(): (1, 1)}, [_syntax_issue(filename, text, exc)]
    except TooLarge:
        issue = ConfigIssue(filename, 1, 1, "(root)", "document expands to too many values (an alias bomb?)")
        return None, {(): (1, 1)}, [issue]


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
