"""Configuration problems as values: where (file, line, column, key path) and what.

Every stage (YAML parsing, model validation, cross-checks) returns a list of issues instead of
raising at the first one, so an admin fixes all their mistakes in one edit-validate round.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

__all__ = ["ConfigError", "ConfigIssue", "KeyPath", "Severity", "format_key_path"]

Severity = Literal["error", "warning"]
KeyPath = tuple[str | int, ...]


def format_key_path(path: KeyPath) -> str:
    """``("agents", 3, "endpoints")`` -> ``agents[3].endpoints``; the document root is ``(root)``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(root)"


@dataclass(frozen=True, slots=True, order=True)
class ConfigIssue:
    file: str
    line: int
    column: int
    key_path: str
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.key_path}: {self.message}"

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "key_path": self.key_path,
            "message": self.message,
            "severity": self.severity,
        }


class ConfigError(Exception):
    """The configuration has at least one error; ``issues`` holds all of them (and the warnings)."""

    def __init__(self, issues: Iterable[ConfigIssue]) -> None:
        self.issues: list[ConfigIssue] = list(issues)
        errors = self.errors
        summary = f"{len(errors)} configuration error(s)"
        super().__init__(summary + "".join(f"\n  {issue}" for issue in errors))

    @property
    def errors(self) -> list[ConfigIssue]:
        return [issue for issue in self.issues if issue.severity == "error"]

    @property
    def warnings(self) -> list[ConfigIssue]:
        return [issue for issue in self.issues if issue.severity == "warning"]
