"""The example configuration's dialplan, byte for byte, against tests/golden/dialplan/.

A change to the templates or the model shows up here as a reviewable diff of the XML that
FreeSWITCH would load. After an intended change, refresh the golden files with:

    UPDATE_GOLDEN=1 python -m pytest tests/test_dialplan_golden.py

and review ``git diff tests/golden/dialplan``.
"""

from __future__ import annotations

import os
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from esl_apps import resources
from esl_apps.config import load_config
from esl_apps.dialplan import build_dialplan, render_dialplan
from esl_apps.dialplan.writer import plan, unified_diff
from tests.support.dialplan import example

GOLDEN = Path(__file__).resolve().parent / "golden" / "dialplan"


def _golden_files() -> dict[str, str]:
    return {
        str(path.relative_to(GOLDEN)): path.read_text(encoding="utf-8")
        for path in sorted(GOLDEN.rglob("*.xml"))
    }


def test_example_matches_golden_files(tmp_path: Path) -> None:
    result = build_dialplan(example(), tmp_path / "out")
    if os.environ.get("UPDATE_GOLDEN"):
        shutil.rmtree(GOLDEN, ignore_errors=True)
        shutil.copytree(tmp_path / "out", GOLDEN)
        pytest.skip("golden files rewritten; review git diff tests/golden/dialplan")
    assert set(result.rendered.files) == set(_golden_files()), "a file was added or removed"
    difference = plan(GOLDEN, result.rendered.files)
    assert difference.clean, "generated XML differs from the golden files:\n" + unified_diff(difference)


def test_same_yaml_gives_byte_identical_files(tmp_path: Path) -> None:
    # A copy of the YAML in another directory, loaded afresh: paths and load order must not leak.
    shutil.copytree(resources.example_conf_dir(), tmp_path / "c")
    shutil.copytree(resources.example_flows_dir(), tmp_path / "f")
    first = render_dialplan(example()).files
    second = render_dialplan(load_config(tmp_path / "c", tmp_path / "f")).files
    assert first == second
    assert all(str(tmp_path) not in text for text in second.values())


def test_no_secret_or_build_time_in_the_files(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ESL_APPS_ESL_PASSWORD", "s3cret-Pa55")
    text = "".join(render_dialplan(example()).files.values())
    assert "s3cret-Pa55" not in text and "ESL_APPS_ESL_PASSWORD" not in text
    assert "ClueCon" not in text
    # Nothing that changes from one build to the next: no dates of any year.
    assert not any(f"20{year}" in text for year in range(20, 40))


def test_every_file_is_a_drop_in_include_of_anchored_extensions() -> None:
    files = render_dialplan(example()).files
    assert all(relpath.split("/")[0] in ("public", "default") for relpath in files)
    for relpath, text in files.items():
        root = ET.fromstring(text)  # well-formed XML
        assert root.tag == "include", relpath
        assert root.find(".//context") is None  # no <context>: FreeSWITCH's context file includes it
        extensions = list(root)
        assert extensions and all(ext.tag == "extension" and ext.get("name") for ext in extensions)
        for ext in extensions:
            (condition,) = ext.findall("condition")
            assert condition.get("field") == "destination_number"
            expression = condition.get("expression", "")
            assert expression.startswith("^") and expression.endswith("$"), expression
            actions = condition.findall("action")
            assert actions and all(action.get("application") for action in actions)
        lines = text.splitlines()
        assert lines[0] == "<include>" and lines[-1] == "</include>"
