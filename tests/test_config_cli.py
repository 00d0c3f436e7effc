"""``esl-apps validate``: exit codes, compiler-style lines, JSON output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from esl_apps.cli import main
from tests.test_config_errors import Tree


@pytest.fixture
def tree(tmp_path: Path) -> Tree:
    return Tree(tmp_path)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["validate", *args])
    return code, capsys.readouterr().out


def test_valid_configuration_exits_0_with_a_summary(tree: Tree, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "--conf", str(tree.conf), "--flows", str(tree.flows))
    assert code == 0
    assert out.splitlines() == [
        "OK: 4 files checked: 8 agents, 3 ring groups, 1 queue, 2 DIDs, 2 flows, 15 disposition codes; "
        "0 warnings"
    ]


def test_errors_exit_2_one_line_each(tree: Tree, capsys: pytest.CaptureFixture[str]) -> None:
    tree.edit("pbx.yaml", "      - bob\n", "      - bobby\n")
    tree.edit("dispositions.yaml", '{code: "51"', '{code: "50"')
    code, out = run(capsys, "--conf", str(tree.conf), "--flows", str(tree.flows))
    assert code == 2
    lines = out.splitlines()
    pbx, disp = tree.path("pbx.yaml"), tree.path("dispositions.yaml")
    dup_line = tree.line_of("dispositions.yaml", '{code: "50", label: Negative')
    assert lines == [
        f"{disp}:{dup_line}:6: codes[14].code: code 50 is defined twice (first at codes[13])",
        f"{pbx}:{tree.line_of('pbx.yaml', '- bobby')}:9: ring_groups.sales.members[1]: agent 'bobby' is not "
        "defined; did you mean 'bob'? (known: alice, bob, carol, dave, erin, frank, grace, heidi)",
        "FAILED: 2 errors, 0 warnings",
    ]


def test_warnings_alone_exit_0(tree: Tree, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "sounds").mkdir()
    tree.edit("pbx.yaml", "/usr/share/freeswitch/sounds/en/us/callie", str(tmp_path / "sounds"))
    code, out = run(capsys, "--conf", str(tree.conf), "--flows", str(tree.flows))
    assert code == 0
    assert ": recording.prompts.notice: warning: prompt file ivr/acme-recording-notice.wav not found" in out
    assert out.splitlines()[-1].endswith("warnings")


def test_json_output(tree: Tree, capsys: pytest.CaptureFixture[str]) -> None:
    tree.edit("pbx.yaml", "strategy: round_robin", "strategy: roundrobin")
    code, out = run(capsys, "--conf", str(tree.conf), "--flows", str(tree.flows), "--json")
    assert code == 2
    report = json.loads(out)
    assert report["ok"] is False and report["errors"] == 1
    (issue,) = report["issues"]
    assert issue["key_path"] == "ring_groups.sales.strategy"
    assert issue["line"] == tree.line_of("pbx.yaml", "strategy: roundrobin")
    assert issue["severity"] == "error"


def test_missing_directory_is_an_error_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(capsys, "--conf", str(tmp_path / "nope"), "--flows", str(tmp_path / "nope"))
    assert code == 2
    assert "pbx.yaml:1:1: (root): file not found" in out
    assert "Traceback" not in out


def test_installed_command_runs_on_the_shipped_example() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "esl_apps", "validate"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("OK: ")
