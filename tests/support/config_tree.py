"""A writable copy of the example configuration for the configuration-error tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from esl_apps import resources
from esl_apps.config import Config, ConfigError, ConfigIssue, load_config

FIXTURE_FLOWS = Path(__file__).resolve().parent.parent / "fixtures" / "config" / "flows"


class Tree:
    """A writable copy of a configuration, with helpers to break it and find the resulting issue."""

    def __init__(self, root: Path) -> None:
        self.conf = root / "conf"
        self.flows = root / "flows"
        shutil.copytree(resources.example_conf_dir(), self.conf)
        shutil.copytree(FIXTURE_FLOWS, self.flows)

    def path(self, name: str) -> Path:
        return (self.conf if name in ("pbx.yaml", "dispositions.yaml") else self.flows) / name

    def text(self, name: str) -> str:
        return self.path(name).read_text(encoding="utf-8")

    def edit(self, name: str, old: str, new: str) -> None:
        text = self.text(name)
        assert old in text, f"{old!r} not in {name}"
        self.path(name).write_text(text.replace(old, new, 1), encoding="utf-8")

    def write(self, name: str, text: str) -> None:
        self.path(name).write_text(text, encoding="utf-8")

    def line_of(self, name: str, needle: str) -> int:
        text = self.text(name)
        assert needle in text, f"{needle!r} not in {name}"
        return text[: text.index(needle)].count("\n") + 1

    def load(self) -> Config:
        return load_config(self.conf, self.flows)

    def issues(self) -> list[ConfigIssue]:
        with pytest.raises(ConfigError) as info:
            self.load()
        return info.value.issues

    def issue(self, name: str, key_path: str) -> ConfigIssue:
        """The one error of ``name`` at ``key_path`` (fails listing all issues otherwise)."""
        issues = self.issues()
        found = [i for i in issues if i.file == str(self.path(name)) and i.key_path == key_path]
        assert len(found) == 1, "\n".join(map(str, issues))
        return found[0]

    def assert_at(self, name: str, key_path: str, needle: str, *fragments: str) -> ConfigIssue:
        issue = self.issue(name, key_path)
        line = self.line_of(name, needle)
        assert (issue.file, issue.line) == (str(self.path(name)), line), str(issue)
        assert str(issue).startswith(f"{self.path(name)}:{line}:{issue.column}: {key_path}: ")
        for fragment in fragments:
            assert fragment in issue.message, str(issue)
        return issue
