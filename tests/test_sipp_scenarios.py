"""Every SIPp scenario end to end, SIPp-to-SIPp on 127.0.0.1, with the RTP checked on the wire.

Success is read from SIPp's statistics files (SIPp's exit code alone proves little), and the DTMF
from an AF_PACKET capture decoded with FreeSWITCH's rules: the caller's keys must arrive as payload
type 96 (what play_dtmf sends; FreeSWITCH takes it when it is the last type offered), the agent's
disposition as payload type 101 with repeated keys intact.
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest

from esl_apps.qa.callers import AgentBehaviour, read_caller_csv, write_agent_csv
from esl_apps.qa.capture import CaptureUnavailable, RtpCapture
from esl_apps.qa.dtmf_pcap import write_dtmf_pcap
from esl_apps.qa.loadtest import LoadtestPlan, run_loadtest
from esl_apps.qa.scenarios import DEFAULT_AUDIO_PCAP, VARIANTS, scenario_file, sipp_dir
from esl_apps.qa.sipp_runner import SippOptions, SippProcess, free_media_port

pytestmark = [
    pytest.mark.sipp,
    pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp is not installed (sip-tester)"),
    pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="SIPp RTP needs root"),
    pytest.mark.skipif(not DEFAULT_AUDIO_PCAP.exists(), reason="sip-tester's g711a.pcap is missing"),
]


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def capture() -> RtpCapture:
    try:
        return RtpCapture().start()
    except CaptureUnavailable as exc:
        pytest.skip(str(exc))


def rtp_ports(media_port: int, calls: int) -> range:
    """The RTP ports a SIPp process advertises for its calls ([auto_media_port]: -mp + 4 per call)."""
    return range(media_port, media_port + 4 * calls, 4)


VARIANT_PARAMS = [
    pytest.param(name, marks=[pytest.mark.slow] if name in ("consent-accept", "payment") else [])
    for name in sorted(VARIANTS)
]


@pytest.mark.parametrize("name", VARIANT_PARAMS)
def test_caller_variant_against_a_switch_standin(name: str, tmp_path: Path) -> None:
    variant = VARIANTS[name]
    _, scripts = read_caller_csv(sipp_dir() / variant.caller_csv)
    calls = min(len(scripts), 2)
    target = free_udp_port()
    plan = LoadtestPlan(
        target_host="127.0.0.1", target_port=target, variant=variant, did=variant.did, rate=10, limit=10,
        calls=calls, caller_csv=sipp_dir() / variant.caller_csv, workdir=tmp_path,
        audio_pcap=DEFAULT_AUDIO_PCAP, time_scale=0.02, standin=True,
    )
    cap = capture()
    try:
        result = run_loadtest(plan, poll_s=0.2)
    finally:
        cap.stop()

    assert result.caller is not None
    assert (result.caller.successful, result.caller.failed) == (calls, 0), result.problems
    assert result.caller_exit_code == 0 and result.all_succeeded
    assert result.caller.counters["answered"] == calls
    assert result.caller.counters["keys_sent"] == sum(len(s.steps) for s in scripts[:calls])
    expected_hangups = sum(1 for s in scripts[:calls] if s.waits_far_end)
    assert result.caller.counters["far_end_hung_up"] == expected_hangups
    assert result.caller.counters["hung_up"] == calls - expected_hangups
    standin = result.uas[0]
    assert standin.role == "standin" and standin.stats is not None
    assert (standin.stats.incoming, standin.stats.successful, standin.stats.failed) == (calls, calls, 0)
    to_standin = rtp_ports(standin.media_port, calls)
    digits = cap.digits_by_stream((96,), dst_ports=to_standin)
    per_call = [digits[key] for key in sorted(digits)]
    assert per_call == [s.keys for s in scripts[:calls]], "every key of the CSV reached the far end"
    assert cap.digits_by_stream((101,), dst_ports=to_standin) == {}, "the caller must not send type 101"


@pytest.mark.slow
def test_agent_answers_busy_rings_and_keys_disposition(tmp_path: Path) -> None:
    """agent_uas.xml against a stand-in for FreeSWITCH dialling agents: one call per agent mode."""
    dispo = write_dtmf_pcap(tmp_path / "dispo.pcap", "2,11#")
    agents_csv = write_agent_csv(tmp_path / "agents.csv", [
        AgentBehaviour("answer", 200, 300, dispo.duration_ms + 200, 0),
        AgentBehaviour("busy", 100),
        AgentBehaviour("noanswer", 0),
    ])
    legs = tmp_path / "legs.csv"
    legs.write_text("SEQUENTIAL\n# hold_ms\n4000\n")
    keys = {"audio_pcap": str(DEFAULT_AUDIO_PCAP)}
    agent_port, switch_port = free_udp_port(), free_udp_port()
    agent_media, switch_media = free_media_port(), free_media_port()
    agent = SippProcess(SippOptions(
        scenario_file("agent_uas.xml"), local_port=agent_port, media_port=agent_media, inf=(agents_csv,),
        keys={**keys, "dispo_pcap": str(dispo.path)}), tmp_path / "agent", name="agent").start()
    switch = SippProcess(SippOptions(
        scenario_file("switch_dials_agent.xml"), local_port=switch_port, media_port=switch_media,
        remote=f"127.0.0.1:{agent_port}", service="agent1", inf=(legs,), keys=keys, calls=3, rate=10),
        tmp_path / "switch", name="switch")
    cap = None
    try:
        agent.wait_ready(agent_port)
        cap = capture()
        switch.start()
        assert switch.wait(60) == 0, switch.diagnostics()
    finally:
        if cap is not None:
            cap.stop()
        switch.stop()
        agent.stop()

    legs_stats, agent_stats = switch.stats(), agent.stats()
    assert legs_stats is not None and agent_stats is not None
    assert (legs_stats.successful, legs_stats.failed) == (3, 0)
    assert {k: legs_stats.counters[k] for k in ("answered", "busy", "no_answer")} == \
        {"answered": 1, "busy": 1, "no_answer": 1}
    assert (agent_stats.incoming, agent_stats.successful, agent_stats.failed) == (3, 3, 0)
    assert {k: agent_stats.counters[k] for k in ("answered", "busy", "cancelled", "disposition_keyed",
                                                 "far_end_hung_up")} == \
        {"answered": 1, "busy": 1, "cancelled": 1, "disposition_keyed": 1, "far_end_hung_up": 1}
    to_switch = rtp_ports(switch_media, 3)
    assert list(cap.digits_by_stream((101,), dst_ports=to_switch).values()) == ["211#"], \
        "repeated keys survive, payload type 101"
    assert cap.digits_by_stream((96,), dst_ports=to_switch) == {}


def test_agent_hangs_up_itself_and_caller_takes_the_bye_during_a_pause(tmp_path: Path) -> None:
    """The global BYE receive: the far end hangs up while the caller is in a pause; still a success."""
    callers = tmp_path / "callers.csv"
    cells = ["+447700900001", "300", "1", "1100"] + [""] * 15 + ["0"]
    callers.write_text("SEQUENTIAL\n" + ";".join(cells) + "\n")
    agents_csv = write_agent_csv(tmp_path / "agents.csv", [AgentBehaviour("answer", 100, 0, 0, 2500)])
    unused = write_dtmf_pcap(tmp_path / "unused.pcap", "#")
    keys = {"audio_pcap": str(DEFAULT_AUDIO_PCAP)}
    agent_port = free_udp_port()
    agent = SippProcess(SippOptions(
        scenario_file("agent_uas.xml"), local_port=agent_port, media_port=free_media_port(),
        inf=(agents_csv,), keys={**keys, "dispo_pcap": str(unused.path)}), tmp_path / "a", name="a").start()
    caller = SippProcess(SippOptions(
        scenario_file("caller_uac.xml"), local_port=free_udp_port(), media_port=free_media_port(),
        remote=f"127.0.0.1:{agent_port}", service="2001", inf=(callers,), keys=keys, calls=2, rate=10),
        tmp_path / "c", name="c")
    try:
        agent.wait_ready(agent_port)
        caller.start()
        assert caller.wait(60) == 0, caller.diagnostics()
    finally:
        caller.stop()
        agent.stop()
    stats, agent_stats = caller.stats(), agent.stats()
    assert stats is not None and agent_stats is not None
    assert (stats.successful, stats.failed) == (2, 0)
    assert stats.counters["far_end_hung_up"] == 2 and stats.counters["hung_up"] == 0
    assert agent_stats.counters["hung_up"] == 2
    assert 2.4 < stats.mean_call_length_s < 4.0, "the call ended when the agent hung up, not at a timeout"
