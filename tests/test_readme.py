"""README.md is assembled from docs/ and documents every command, YAML key and node type."""

from __future__ import annotations

import subprocess
import sys

import yaml

from esl_apps.cli import COMMAND_MODULES
from esl_apps.config.flows import NODE_TYPES
from tests.conftest import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_is_up_to_date_with_docs() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "build_readme.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_every_command_is_documented() -> None:
    for name in COMMAND_MODULES:
        assert f"esl-apps {name}" in README, name


def test_both_setup_commands_are_shown() -> None:
    assert "./scripts/demo.sh" in README and "./scripts/test.sh" in README


def _keys(data: object, prefix: str = "") -> set[str]:
    keys: set[str] = set()
    if isinstance(data, dict):
        for key, value in data.items():
            keys.add(str(key))
            if not isinstance(value, dict) or prefix.count(".") < 1:
                keys |= _keys(value, f"{prefix}{key}.")
    elif isinstance(data, list):
        for item in data:
            keys |= _keys(item, prefix)
    return keys


def test_every_key_of_the_example_configuration_is_documented() -> None:
    for name in ("pbx.yaml", "dispositions.yaml"):
        data = yaml.safe_load((REPO_ROOT / "conf" / name).read_text())
        # Names an admin invents (agent ids, group ids, schedule names...) are values, not keys.
        invented = set()
        for section in ("ring_groups", "queues", "schedules", "categories"):
            invented |= set((data.get(section) or {}).keys())
        invented |= set(((data.get("voicemail") or {}).get("boxes") or {}).keys())
        for section in ("schedules",):
            for schedule in (data.get(section) or {}).values():
                invented |= set((schedule.get("weekly") or {}).keys())
        missing = sorted(
            k for k in _keys(data) - invented if f"`{k}`" not in README and f"{k}:" not in README
        )
        assert not missing, f"{name}: undocumented keys {missing}"


def test_every_flow_node_type_is_documented() -> None:
    for node_type in NODE_TYPES:
        assert f"### {node_type}" in README, node_type
