"""``esl-apps build`` as an admin runs it: exit codes, --check diffs, atomic writes, templates."""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import pytest

from esl_apps import resources
from esl_apps.cli import build_parser
from esl_apps.commands import build as build_command
from esl_apps.dialplan import writer
from tests.support.dialplan import write_conf


def run(*argv: str) -> tuple[int, str, str]:
    args = build_parser().parse_args(["build", *argv])
    out, err = io.StringIO(), io.StringIO()
    code = build_command.run(args, out, err)
    return code, out.getvalue(), err.getvalue()


def _snapshot(directory: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(directory)): (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def test_build_then_check_is_clean_and_a_rebuild_touches_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, stdout, _ = run("--out", str(out))
    assert code == 0
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*.xml")) == [
        "default/00_esl_apps_features.xml",
        "default/05_esl_apps_wrapup.xml",
        "default/10_esl_apps_groups.xml",
        "default/20_esl_apps_agents.xml",
        "public/00_esl_apps_dids.xml",
    ]
    assert "OK: 5 file(s) changed" in stdout
    before = _snapshot(out)
    assert run("--out", str(out))[0] == 0
    assert _snapshot(out) == before  # same inode and mtime: unchanged files are not rewritten
    code, stdout, stderr = run("--out", str(out), "--check")
    assert (code, stdout) == (0, "")
    assert "up to date: 5 file(s)" in stderr
    assert oct(os.stat(out / "public" / "00_esl_apps_dids.xml").st_mode & 0o777) == "0o644"


def test_check_prints_a_unified_diff_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    run("--out", str(out))
    agents = out / "default" / "20_esl_apps_agents.xml"
    agents.write_text(agents.read_text().replace("^1001$", "^1099$"))
    (out / "public" / "00_esl_apps_dids.xml").unlink()
    stale = out / "inbound" / "00_esl_apps_dids.xml"  # left over from a renamed context
    stale.parent.mkdir()
    stale.write_text("<include>\n</include>\n")
    mine = out / "default" / "99_local.xml"  # an admin's own file: never touched
    mine.write_text("<include/>\n")
    before = _snapshot(out)

    code, diff, stderr = run("--out", str(out), "--check")
    assert code == 1
    assert _snapshot(out) == before
    assert "--- a/default/20_esl_apps_agents.xml\n+++ b/default/20_esl_apps_agents.xml\n" in diff
    assert '-    <condition field="destination_number" expression="^1099$">\n' in diff
    assert '+    <condition field="destination_number" expression="^1001$">\n' in diff
    assert "--- /dev/null\n+++ b/public/00_esl_apps_dids.xml\n" in diff
    assert "--- a/inbound/00_esl_apps_dids.xml\n+++ /dev/null\n" in diff
    assert "99_local" not in diff
    assert (
        "update default/20_esl_apps_agents.xml" in stderr and "delete inbound/00_esl_apps_dids.xml" in stderr
    )

    assert run("--out", str(out))[0] == 0
    assert not stale.exists() and mine.read_text() == "<include/>\n"
    assert run("--out", str(out), "--check")[0] == 0


def test_writes_are_atomic_and_leave_no_temporary_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    run("--out", str(out))
    agents = out / "default" / "20_esl_apps_agents.xml"
    original = agents.read_text()
    agents.write_text(original.replace("Alice", "Alicia"))
    old_text = agents.read_text()

    def disk_full(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(writer.os, "replace", disk_full)
    code, _, stderr = run("--out", str(out))
    assert code == 2 and "No space left on device" in stderr
    assert agents.read_text() == old_text  # the old file is whole
    monkeypatch.undo()
    assert run("--out", str(out))[0] == 0
    assert agents.read_text() == original
    assert sorted(p.name for p in out.rglob(".*")) == []  # no temp files either time


def test_configuration_errors_exit_2_with_file_and_line(tmp_path: Path) -> None:
    def bad(pbx: dict) -> None:
        pbx["ring_groups"]["sales"]["members"].append("zoe")

    conf, flows = write_conf(tmp_path, bad)
    code, stdout, _ = run("--conf", str(conf), "--flows", str(flows), "--out", str(tmp_path / "out"))
    assert code == 2
    assert (
        f"{conf / 'pbx.yaml'}:" in stdout and "ring_groups.sales.members[3]" in stdout and "'zoe'" in stdout
    )
    assert "nothing written" in stdout and not (tmp_path / "out").exists()


def test_values_the_xml_cannot_carry_exit_2_at_their_key(tmp_path: Path) -> None:
    def control_char(pbx: dict) -> None:
        pbx["agents"][1]["endpoints"] = ["user/1002@pbx.example.com\x07"]

    conf, flows = write_conf(tmp_path, control_char)
    code, stdout, _ = run("--conf", str(conf), "--flows", str(flows), "--out", str(tmp_path / "out"))
    assert code == 2
    line = next(line for line in stdout.splitlines() if "agents[1].endpoints[0]" in line)
    assert line.startswith(f"{conf / 'pbx.yaml'}:") and "U+0007" in line


def test_an_admins_template_replaces_only_that_template(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    shutil.copy(resources.default_templates_dir() / "agents.xml.j2", templates)
    text = (templates / "agents.xml.j2").read_text()
    (templates / "agents.xml.j2").write_text(text.replace('data="call_timeout=30"', 'data="call_timeout=45"'))
    (templates / "notes.j2").write_text("not a template")
    out = tmp_path / "out"
    code, stdout, stderr = run("--out", str(out), "--templates", str(templates))
    assert code == 0, stdout
    assert "template agents.xml.j2 from" in stdout
    assert "notes.j2 is not a template esl-apps uses" in stderr
    assert "call_timeout=45" in (out / "default" / "20_esl_apps_agents.xml").read_text()
    assert "call_timeout" not in (out / "default" / "10_esl_apps_groups.xml").read_text()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("{% for agent in model.agents %}", "{% for agent in model.agents %"), "template syntax error"),
        (
            ('name="{{ agent.extension_name }}"', 'name="x_{{ agent.extension_name }}"'),
            "dialling 1001 in context default reaches extension 'x_esl_apps_agent_alice' instead of",
        ),
        (("</include>", "</includ>"), "not well-formed XML"),
        (("{{ agent.bridge }}", "{{ agent.bridge }}{{ agent.name }}\x01"), "agents.xml.j2"),
        (("{{ agent.id }}", "{{ agent.nickname }}"), "nickname"),
    ],
)
def test_broken_templates_exit_2_and_write_nothing(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    text = (resources.default_templates_dir() / "agents.xml.j2").read_text()
    assert change[0] in text
    (templates / "agents.xml.j2").write_text(text.replace(change[0], change[1], 1))
    code, stdout, _ = run("--out", str(tmp_path / "out"), "--templates", str(templates))
    assert code == 2
    assert message in stdout
    assert not (tmp_path / "out").exists()


def test_help_documents_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["build", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    for text in (
        "--check",
        "--reload",
        "--templates",
        "1 --check found differences",
        "3 FreeSWITCH unreachable",
    ):
        assert text in help_text
