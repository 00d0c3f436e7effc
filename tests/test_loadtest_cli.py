"""``esl-apps loadtest``: argument errors, missing SIPp, and real SIPp-to-SIPp runs read from SIPp's files."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from esl_apps.cli import main
from esl_apps.commands import loadtest as command
from esl_apps.qa.capture import CaptureUnavailable, RtpCapture
from esl_apps.qa.loadtest import LoadtestPlan, Progress, run_loadtest
from esl_apps.qa.scenarios import DEFAULT_AUDIO_PCAP, VARIANTS, sipp_dir

SIPP_MARKS = (
    pytest.mark.sipp,
    pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp is not installed (sip-tester)"),
    pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="SIPp RTP needs root"),
    pytest.mark.skipif(not DEFAULT_AUDIO_PCAP.exists(), reason="sip-tester's g711a.pcap is missing"),
)


def needs_sipp(test):  # type: ignore[no-untyped-def]
    for mark in SIPP_MARKS:
        test = mark(test)
    return test


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize(("args", "message"), [
    (["--target", "pbx"], "expected HOST:PORT"),
    (["--target", "127.0.0.1:99999"], "expected HOST:PORT"),
    (["--target", "127.0.0.1:5080", "--rate", "0"], "--rate must be positive"),
    (["--target", "127.0.0.1:5080", "--calls", "0"], "--calls and --limit"),
    (["--target", "127.0.0.1:5080", "--csv", "/nonexistent.csv"], "no such file"),
    (["--target", "127.0.0.1:5080", "--audio-pcap", "/nonexistent.pcap"], "no such audio pcap"),
    (["--target", "127.0.0.1:5091", "--standin", "--agents", "2"], "also an agent port"),
])
def test_bad_arguments_exit_2(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["loadtest", *args]) == 2
    assert message in capsys.readouterr().err


def test_unknown_scenario_is_an_argparse_error() -> None:
    with pytest.raises(SystemExit) as exc:
        main(["loadtest", "--target", "127.0.0.1:5080", "--scenario", "nope"])
    assert exc.value.code == 2


def test_sipp_missing_exits_3(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ESL_APPS_SIPP", "/nonexistent/sipp")
    assert main(["loadtest", "--target", "127.0.0.1:5080"]) == 3
    assert "apt-get install sip-tester" in capsys.readouterr().err


def test_not_root_exits_3(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    if shutil.which("sipp") is None:
        pytest.skip("sipp is not installed")
    monkeypatch.setattr(command, "can_send_rtp", lambda: False)
    assert main(["loadtest", "--target", "127.0.0.1:5080"]) == 3
    assert "needs root" in capsys.readouterr().err


def test_bad_injection_file_exits_2_before_any_call(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    if shutil.which("sipp") is None or os.geteuid() != 0:
        pytest.skip("needs sipp and root to get past the tool checks")
    bad = tmp_path / "bad.csv"
    bad.write_text("SEQUENTIAL\n+447700900001;soon;1;1100" + ";" * 16 + "0\n")
    out_dir = tmp_path / "o"
    assert main(["loadtest", "--target", "127.0.0.1:5080", "--csv", str(bad), "--out", str(out_dir)]) == 2
    assert "bad.csv:2: wait1_ms must be a whole number" in capsys.readouterr().err
    assert not (tmp_path / "o" / "caller").exists(), "no SIPp was started"


@pytest.mark.slow
@needs_sipp
def test_ten_calls_at_five_per_second_sipp_to_sipp(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                    redis_url: str) -> None:
    """The run recorded in docs/qa.md: a UAS on --target stands in for the switch."""
    target = free_udp_port()
    rc = main(["loadtest", "--target", f"127.0.0.1:{target}", "--standin", "--scenario", "caller",
               "--calls", "10", "--rate", "5", "--limit", "10", "--time-scale", "0.05",
               "--redis", redis_url, "--out", str(tmp_path / "run"),
               "--json", str(tmp_path / "run.json")])
    out = capsys.readouterr().out
    assert rc == 0, out
    summary = json.loads((tmp_path / "run.json").read_text())
    assert (summary["attempted"], summary["succeeded"], summary["failed"]) == (10, 10, 0)
    assert summary["all_succeeded"] and summary["sipp_exit_code"] == 0
    assert summary["response_times_ms"]["answer"]["count"] == 10
    assert 4.0 < summary["achieved_rate"] < 6.0
    assert summary["counters"]["keys_sent"] == 15  # callers_ivr.csv: 1, 2, 2, 1, then 1, 2, 2, 1, 1, 2
    assert summary["uas"][0]["role"] == "standin" and summary["uas"][0]["incoming"] == 10
    assert summary["redis"] == {"delta": {"calls": 0, "consent": 0, "dispositions": 0, "callbacks": 0},
                                "error": None}
    assert "attempted 10  succeeded 10  failed 0" in out
    assert "answer time (INVITE -> 200 OK): n=10" in out
    assert "application (Redis, this run): call traces +0" in out
    assert list((tmp_path / "run" / "caller").glob("caller_uac_*_.csv")), "SIPp's statistics kept"


@needs_sipp
def test_busy_agent_as_target_fails_calls_with_the_reason(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    port = free_udp_port()
    rc = main(["loadtest", "--target", f"127.0.0.1:{port}", "--agents", "1", "--agent-base-port", str(port),
               "--agent-mode", "busy", "--answer-delay", "0.1", "--calls", "3", "--rate", "10",
               "--time-scale", "0.05", "--out", str(tmp_path / "run"),
               "--json", str(tmp_path / "run.json")])
    assert rc == 1
    summary = json.loads((tmp_path / "run.json").read_text())
    assert (summary["attempted"], summary["succeeded"], summary["failed"]) == (3, 0, 3)
    assert summary["failed_by_reason"] == {"UnexpectedMessage": 3}
    assert summary["error_codes"] == {"486": 3}
    assert summary["uas"][0]["counters"]["busy"] == 3
    out = capsys.readouterr().out
    assert "failed: 3 x unexpected SIP message" in out and "486 x3" in out and "result: FAILED" in out


@needs_sipp
def test_agent_as_target_keys_its_disposition_to_the_caller(tmp_path: Path) -> None:
    """--agents with --target on the agent: the caller talks to the agent, which keys its code (type 101)."""
    port = free_udp_port()
    callers = tmp_path / "callers.csv"
    cells = ["+447700900001", "200", "9", "1100"] + [""] * 15 + ["3000"]
    callers.write_text("SEQUENTIAL\n" + ";".join(cells) + "\n")
    plan = LoadtestPlan(
        target_host="127.0.0.1", target_port=port, variant=VARIANTS["caller"], did="2001", rate=10, limit=10,
        calls=2, caller_csv=callers, workdir=tmp_path / "run", audio_pcap=DEFAULT_AUDIO_PCAP, agents=1,
        agent_base_port=port, agent_mode="answer", answer_delay_ms=100, disposition="12#", dispo_after_ms=300,
    )
    seen: list[Progress] = []
    try:
        cap = RtpCapture().start()
    except CaptureUnavailable as exc:
        pytest.skip(str(exc))
    try:
        result = run_loadtest(plan, seen.append, poll_s=0.2)
    finally:
        cap.stop()
    assert result.all_succeeded, result.problems
    agent = result.uas[0]
    assert agent.stats is not None and agent.stats.counters["disposition_keyed"] == 2
    to_caller = range(result.caller_media_port, result.caller_media_port + 8, 4)
    assert sorted(cap.digits_by_stream((101,), dst_ports=to_caller).values()) == ["12#", "12#"]
    assert seen and seen[-1].created == 2
    assert [p.elapsed_s for p in seen] == sorted(p.elapsed_s for p in seen)


def test_every_variant_has_its_caller_file() -> None:
    for variant in VARIANTS.values():
        assert (sipp_dir() / variant.caller_csv).is_file()


def sipp_processes_under(path: Path) -> list[int]:
    """PIDs of SIPp processes whose command line mentions ``path`` (ours, not other runs')."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "sipp" in cmdline.split(" ", 1)[0] and str(path) in cmdline:
            found.append(int(entry.name))
    return found


@pytest.mark.slow
@needs_sipp
def test_ctrl_c_stops_placing_calls_and_still_summarises(tmp_path: Path) -> None:
    target = free_udp_port()
    run = subprocess.Popen(
        [sys.executable, "-m", "esl_apps.cli", "loadtest", "--target", f"127.0.0.1:{target}", "--standin",
         "--calls", "100", "--rate", "5", "--time-scale", "0.05", "--out", str(tmp_path / "run"),
         "--json", str(tmp_path / "run.json")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while not list((tmp_path / "run").glob("caller/caller_uac_*_.csv")) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(2)
        run.send_signal(signal.SIGINT)
        out, err = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 1, err
    summary = json.loads((tmp_path / "run.json").read_text())
    assert 5 <= summary["attempted"] < 100
    assert summary["succeeded"] == summary["attempted"], "calls in progress were allowed to finish"
    assert any("interrupted" in problem for problem in summary["problems"])
    assert "result: FAILED" in out
    assert sipp_processes_under(tmp_path) == [], "no SIPp left running"
