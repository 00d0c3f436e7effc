"""The operations kit: systemd units that systemd accepts and that match the CLI and the example
configuration, and FreeSWITCH snippets that keep the event socket on loopback behind a password
that is not ClueCon."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from esl_apps.cli import build_parser
from tests.conftest import REPO_ROOT

SYSTEMD = REPO_ROOT / "conf" / "systemd"
FREESWITCH = REPO_ROOT / "conf" / "freeswitch" / "autoload_configs"
UNITS = ("esl-apps.service", "esl-apps-callbacks.service")
EXAMPLE_PBX = yaml.safe_load((REPO_ROOT / "conf" / "pbx.yaml").read_text(encoding="utf-8"))


def parse_unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """systemd's unit syntax: sections, repeated keys, backslash continuations, # and ; comments."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    pending = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = pending + raw.strip() if pending else raw.strip()
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        pending = ""
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            assert line.endswith("]"), line
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None and "=" in line, f"{path.name}: {line!r}"
        key, value = line.split("=", 1)
        current.setdefault(key.strip(), []).append(value.strip())
    assert not pending, f"{path.name}: continuation at the end of the file"
    return sections


def one(unit: dict[str, dict[str, list[str]]], section: str, key: str) -> str:
    values = unit[section][key]
    assert len(values) == 1, f"{key} set {len(values)} times"
    return values[0]


@pytest.mark.parametrize("name", UNITS)
def test_unit_is_hardened_and_stops_gracefully(name):
    unit = parse_unit(SYSTEMD / name)
    assert set(unit) == {"Unit", "Service", "Install"}
    service = unit["Service"]
    assert one(unit, "Service", "User") == "esl-apps" and one(unit, "Service", "Group") == "esl-apps"
    for key, value in {
        "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
        "Restart": "on-failure", "RestartPreventExitStatus": "2", "KillSignal": "SIGTERM", "UMask": "0077",
        "CapabilityBoundingSet": "",
    }.items():
        assert one(unit, "Service", key) == value, key
    writable = " ".join(service["ReadWritePaths"]).split()
    assert EXAMPLE_PBX["redis"]["spool_dir"] in writable  # where records wait for Redis
    assert str(Path(EXAMPLE_PBX["recording"]["audit_file"]).parent) in writable
    assert one(unit, "Service", "EnvironmentFile") == "/etc/esl-apps/esl-apps.env"
    assert one(unit, "Install", "WantedBy") == "multi-user.target"
    assert "StartLimitBurst" in unit["Unit"]  # [Unit], where systemd reads it


@pytest.mark.parametrize("name", UNITS)
def test_unit_commands_are_valid_esl_apps_command_lines(name):
    """ExecStart/ExecStartPre parse with the real argument parser: a renamed option breaks this
    test, not a production start."""
    unit = parse_unit(SYSTEMD / name)
    commands = unit["Service"]["ExecStartPre"] + unit["Service"]["ExecStart"]
    parser = build_parser()
    for command in commands:
        argv = shlex.split(command)
        assert argv[0] == "/opt/esl-apps/bin/esl-apps"
        args = parser.parse_args(argv[1:])
        assert callable(args.func)
        assert str(args.conf) == "/etc/esl-apps/conf" and str(args.flows) == "/etc/esl-apps/ivr_flows"


def test_stop_timeouts_cover_the_graceful_stop():
    unit = parse_unit(SYSTEMD / "esl-apps.service")
    args = build_parser().parse_args(shlex.split(one(unit, "Service", "ExecStart"))[1:])
    assert args.command == "serve" and args.metrics_port == 9464 and args.metrics_host == "127.0.0.1"
    assert int(one(unit, "Service", "TimeoutStopSec")) >= args.grace + 10  # grace, then flushing
    callbacks = parse_unit(SYSTEMD / "esl-apps-callbacks.service")
    args = build_parser().parse_args(shlex.split(one(callbacks, "Service", "ExecStart"))[1:])
    assert args.command == "callbacks" and args.action == "run"
    # an attempt in flight: the agent rings (ring_timeout, at most 30 s in practice), then the customer
    assert int(one(callbacks, "Service", "TimeoutStopSec")) >= 30 + args.customer_ring


def test_environment_file_template_holds_the_password_variable_the_config_names():
    text = (SYSTEMD / "esl-apps.env.example").read_text(encoding="utf-8")
    assignments = dict(
        line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#")
    )
    assert list(assignments) == [EXAMPLE_PBX["esl"]["password_env"]]
    assert "REPLACE" in assignments["ESL_APPS_ESL_PASSWORD"]
    assert "cluecon" not in assignments["ESL_APPS_ESL_PASSWORD"].lower()
    assert "0600" in text


def test_tmpfiles_make_the_spool_private():
    entries = [
        line.split() for line in (SYSTEMD / "esl-apps.tmpfiles.conf").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    modes = {path: mode for _, path, mode, *_ in entries}
    assert modes[EXAMPLE_PBX["redis"]["spool_dir"]] == "0700"
    assert modes["/var/lib/esl-apps"] == "0711"
    assert all(user == "esl-apps" for _, _, _, user, *_ in entries)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_accepts_the_units(tmp_path):
    """``systemd-analyze verify`` on copies whose commands point at this machine's esl-apps (it
    checks that the executables exist); any message about the unit is a failure."""
    executable = shutil.which("esl-apps")
    assert executable, "the package is installed (pip install -e .), so esl-apps is on PATH"
    for name in UNITS:
        text = (SYSTEMD / name).read_text(encoding="utf-8").replace("/opt/esl-apps/bin/esl-apps", executable)
        (tmp_path / name).write_text(text, encoding="utf-8")
    result = subprocess.run(
        ["systemd-analyze", "verify", *(str(tmp_path / name) for name in UNITS)],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )
    messages = [line for line in (result.stdout + result.stderr).splitlines() if ".service" in line]
    assert result.returncode == 0 and not messages, result.stdout + result.stderr


def _params(path: Path) -> dict[str, str]:
    root = ET.parse(path).getroot()
    return {p.get("name", ""): p.get("value", "") for p in root.iter("param")}


def test_event_socket_is_on_loopback_with_a_password_to_replace_and_an_acl():
    params = _params(FREESWITCH / "event_socket.conf.xml")
    assert params["listen-ip"] == "127.0.0.1"
    assert int(params["listen-port"]) == EXAMPLE_PBX["esl"]["port"]
    password = params["password"]
    assert password.lower() != "cluecon" and "cluecon" not in password.lower()
    assert password.startswith("REPLACE-ME")  # unmistakably a placeholder
    acl = ET.parse(FREESWITCH / "acl.conf.xml").getroot()
    [listed] = [e for e in acl.iter("list") if e.get("name") == params["apply-inbound-acl"]]
    assert listed.get("default") == "deny"
    nodes = [(n.get("type"), n.get("cidr")) for n in listed.iter("node")]
    assert nodes == [("allow", "127.0.0.1/32"), ("allow", "::1/128")]


def test_no_shipped_file_uses_the_default_event_socket_password():
    """ClueCon may appear in prose warning against it, never as a value."""
    for path in [*SYSTEMD.iterdir(), *FREESWITCH.iterdir()]:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r'(value="|=)\s*ClueCon', text, re.IGNORECASE), path
