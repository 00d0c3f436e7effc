"""Turn pydantic validation errors into admin-readable issues at the right file:line:column.

Pydantic reports a location as a tuple of field names, indexes, union tags and validator names.
Only some of those exist in the YAML, so the location is walked against the loaded data: parts
that match a key or index are kept (they are the key path), the others are dropped, and the
mark is the nearest part that exists in the file (a missing key points at its parent mapping).
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from esl_apps.config.errors import ConfigIssue, KeyPath, format_key_path
from esl_apps.config.types import PATTERN_DESCRIPTIONS
from esl_apps.config.yamlmarks import Marks

__all__ = ["data_path", "describe", "issues_from_validation", "mark_for"]


def mark_for(marks: Marks, path: KeyPath) -> tuple[int, int]:
    """The mark of ``path``, else of its nearest ancestor that is in the file."""
    for end in range(len(path), -1, -1):
        mark = marks.get(path[:end])
        if mark is not None:
            return mark
    return (1, 1)


def describe(value: Any) -> str:
    """A short, admin-facing description of a YAML value for 'got ...' in messages."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _unwrap(tp: Any) -> Iterable[Any]:
    """The concrete types inside Annotated / Optional / unions."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        yield from _unwrap(typing.get_args(tp)[0])
    elif origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            yield from _unwrap(arg)
    else:
        yield tp


def _field_key(model: type[BaseModel], name: str) -> Any:
    for field_name, info in model.model_fields.items():
        if (info.alias or field_name) == name:
            return info.annotation
    return None


def _allowed_keys(root: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The keys the model at ``loc`` accepts (best effort through unions and containers)."""
    candidates: list[Any] = [root]
    for part in loc:
        following: list[Any] = []
        for candidate in candidates:
            for tp in _unwrap(candidate):
                origin, args = typing.get_origin(tp), typing.get_args(tp)
                if isinstance(tp, type) and issubclass(tp, BaseModel):
                    annotation = _field_key(tp, part) if isinstance(part, str) else None
                    following.append(annotation if annotation is not None else tp)
                elif origin in (tuple, list) and args and isinstance(part, int):
                    following.append(args[0])
                elif origin in (dict, Mapping) and len(args) == 2 and isinstance(part, str):
                    following.append(args[1])
        candidates = following or candidates
    keys: list[str] = []
    for candidate in candidates:
        for tp in _unwrap(candidate):
            if isinstance(tp, type) and issubclass(tp, BaseModel):
                keys.extend(info.alias or name for name, info in tp.model_fields.items() if not info.exclude)
    return sorted(set(keys))


def _message(error: Mapping[str, Any], root: type[BaseModel], key: str | None) -> str:
    kind, msg, value = error["type"], error["msg"], error.get("input")
    loc = tuple(error["loc"])
    if kind == "missing":
        return f"required key {key!r} is missing"
    if kind == "extra_forbidden":
        allowed = [k for k in _allowed_keys(root, loc[:-1]) if k != "password"]
        close = difflib.get_close_matches(str(key), allowed, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        listing = f"; expected one of: {', '.join(allowed)}" if allowed and len(allowed) <= 20 else ""
        return f"unknown key {key!r}{hint}{listing}"
    if kind == "string_pattern_mismatch":
        expected = PATTERN_DESCRIPTIONS.get(error.get("ctx", {}).get("pattern", ""))
        if expected:
            return f"expected {expected}, got {describe(value)}"
    if kind == "value_error":
        return msg.removeprefix("Value error, ")
    if kind == "assertion_error":
        return msg.removeprefix("Assertion failed, ")
    if kind == "literal_error":
        return f"expected one of {error.get('ctx', {}).get('expected', '?')}, got {describe(value)}"
    if kind in ("model_type", "model_attributes_type", "dict_type", "mapping_type"):
        return f"expected a mapping (key: value), got {describe(value)}"
    if kind in ("list_type", "tuple_type", "sequence_type", "set_type"):
        return f"expected a list, got {describe(value)}"
    if kind == "string_type":
        return f"expected text, got {describe(value)}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"expected a whole number, got {describe(value)}"
    if kind in ("float_type", "float_parsing"):
        return f"expected a number, got {describe(value)}"
    if kind in ("bool_type", "bool_parsing"):
        return f"expected true or false, got {describe(value)}"
    if kind in ("date_type", "date_parsing", "date_from_datetime_inexact", "date_from_datetime_parsing"):
        return f"expected a date as YYYY-MM-DD, got {describe(value)}"
    return f"{msg[:1].lower()}{msg[1:]}, got {describe(value)}"


def data_path(loc: tuple[Any, ...], data: Any) -> KeyPath:
    """The part of a pydantic location that exists in ``data`` (union tags etc. dropped)."""
    current, path = data, []
    for part in loc:
        if (isinstance(current, dict) and isinstance(part, str) and part in current) or (
            isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current)
        ):
            current = current[part]
            path.append(part)
    return tuple(path)


def _named_key(path: KeyPath, data: Any, prefix: KeyPath, message: str) -> KeyPath:
    """A check across a model's keys ("repeat_key '*' is also a menu option") names the key it
    blames first; point at that key's line rather than at the whole mapping."""
    first = message.split(" ", 1)[0]
    node = data
    for part in path[len(prefix) :]:
        node = node[part]
    return (*path, first) if isinstance(node, dict) and first in node else path


def issues_from_validation(
    exc: ValidationError, filename: str, data: Any, marks: Marks, root: type[BaseModel], prefix: KeyPath = ()
) -> list[ConfigIssue]:
    """One issue per pydantic error; ``prefix`` is where the validated part sits in the file."""
    issues: list[ConfigIssue] = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        path = [*prefix, *data_path(loc, data)]
        key = loc[-1] if loc and isinstance(loc[-1], str) else None
        key_path = tuple(path)
        if error["type"] == "value_error":
            key_path = _named_key(key_path, data, prefix, error["msg"].removeprefix("Value error, "))
        mark = mark_for(marks, key_path)
        if error["type"] == "missing" and key is not None:
            key_path = (*key_path, key)
        line, column = mark
        issues.append(
            ConfigIssue(filename, line, column, format_key_path(key_path), _message(error, root, key))
        )
    return issues
