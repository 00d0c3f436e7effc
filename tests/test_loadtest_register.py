"""Agents registered as SIP users before a load test (digest auth), against a SIPp registrar stand-in."""

from __future__ import annotations

import json
import os
import shutil
import socket
from pathlib import Path

import pytest

from esl_apps.cli import main
from esl_apps.qa.registration import parse_users
from esl_apps.qa.scenarios import DEFAULT_AUDIO_PCAP
from esl_apps.qa.sipp_runner import SippOptions, SippProcess

REGISTRAR = Path(__file__).resolve().parent / "fixtures" / "sipp" / "registrar_uas.xml"


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_user_lists() -> None:
    assert parse_users("1001-1003") == ("1001", "1002", "1003")
    assert parse_users("0098-0100, alice") == ("0098", "0099", "0100", "alice")
    for bad in ("", "1003-1001", "bob smith", "1-5000"):
        with pytest.raises(ValueError):
            parse_users(bad)


@pytest.mark.parametrize(("args", "env", "message"), [
    (["--agents", "2", "--register", "1001-1003"], {"ESL_APPS_AGENT_PASSWORD": "x"},
     "3 users for --agents 2"),
    (["--agents", "2", "--register", "1001-1002"], {}, "no SIP password: set ESL_APPS_AGENT_PASSWORD"),
    (["--agents", "1", "--register", "1001", "--register-server", "pbx"], {"ESL_APPS_AGENT_PASSWORD": "x"},
     "expected HOST:PORT"),
])
def test_registration_arguments(args: list[str], env: dict[str, str], message: str,
                                monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("ESL_APPS_AGENT_PASSWORD", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["loadtest", "--target", "127.0.0.1:5080", *args]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.sipp
@pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp is not installed (sip-tester)")
@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="SIPp RTP needs root")
@pytest.mark.skipif(not DEFAULT_AUDIO_PCAP.exists(), reason="sip-tester's g711a.pcap is missing")
@pytest.mark.parametrize(("password", "rc"), [("s3cret", 0), ("wrong", 1)])
def test_agents_register_before_the_calls_and_unregister_after(
        password: str, rc: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    users = tmp_path / "users.csv"
    users.write_text("SEQUENTIAL\n1001;s3cret\n1002;s3cret\n")
    registrar_port, target, agent_base = free_udp_port(), free_udp_port(), free_udp_port()
    registrar = SippProcess(SippOptions(scenario=REGISTRAR, local_port=registrar_port, inf=(users,)),
                            tmp_path / "registrar", name="registrar").start()
    monkeypatch.setenv("QA_AGENT_PASSWORD", password)
    try:
        registrar.wait_ready(registrar_port)
        code = main(["loadtest", "--target", f"127.0.0.1:{target}", "--standin", "--calls", "2",
                     "--rate", "10", "--time-scale", "0.02", "--agents", "2",
                     "--agent-base-port", str(agent_base), "--register", "1001-1002",
                     "--register-server", f"127.0.0.1:{registrar_port}",
                     "--register-domain", "pbx.example.com",
                     "--register-password-env", "QA_AGENT_PASSWORD", "--out", str(tmp_path / "run"),
                     "--json", str(tmp_path / "run.json")])
    finally:
        registrar.stop(grace_s=2)
    captured = capsys.readouterr()
    assert code == rc, captured
    stats = registrar.stats()
    assert stats is not None
    assert not list((tmp_path / "run").rglob("register.csv")), "the file holding the password is deleted"
    assert password not in "".join(p.read_text(errors="replace") for p in (tmp_path / "run").rglob("*")
                                   if p.is_file() and p.suffix in (".csv", ".log", ".stderr"))
    if rc == 0:
        summary = json.loads((tmp_path / "run.json").read_text())
        assert summary["registered"] == 2 and summary["succeeded"] == 2
        assert (stats.successful, stats.failed) == (4, 0), "two REGISTERs, then two with Expires: 0"
        assert "2 of 2 agents registered" in captured.out
    else:
        assert "only 0 of 2 agents registered" in captured.err
        assert stats.failed == 2
        assert not (tmp_path / "run" / "caller").exists(), "no call is placed without registered agents"
