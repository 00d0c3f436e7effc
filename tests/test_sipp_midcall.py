"""What a switch may send besides the expected messages: re-INVITE, INFO, OPTIONS, an unknown method.

The caller and agent scenarios must answer like phones and carry on where they were (SIPp's
_unexp.main handler with pause restore and jump back), never fail the call or loop.
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest

from esl_apps.qa.callers import AgentBehaviour, write_agent_csv
from esl_apps.qa.dtmf_pcap import write_dtmf_pcap
from esl_apps.qa.scenarios import DEFAULT_AUDIO_PCAP, scenario_file
from esl_apps.qa.sipp_runner import SippOptions, SippProcess, free_media_port

pytestmark = [
    pytest.mark.sipp,
    pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp is not installed (sip-tester)"),
    pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="SIPp RTP needs root"),
    pytest.mark.skipif(not DEFAULT_AUDIO_PCAP.exists(), reason="sip-tester's g711a.pcap is missing"),
]
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "sipp"
KEYS = {"audio_pcap": str(DEFAULT_AUDIO_PCAP)}


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_pair(tmp_path: Path, uas: SippOptions, uac: SippOptions) -> tuple[SippProcess, SippProcess]:
    server = SippProcess(uas, tmp_path / "uas", name="uas").start()
    client = SippProcess(uac, tmp_path / "uac", name="uac")
    try:
        assert uas.local_port is not None
        server.wait_ready(uas.local_port)
        client.start()
        assert client.wait(30) is not None, "the client did not finish"
    finally:
        client.stop()
        server.stop()
    return server, client


def agent_options(tmp_path: Path, port: int) -> SippOptions:
    agents = write_agent_csv(tmp_path / "agents.csv", [AgentBehaviour("answer", 50)])
    unused = write_dtmf_pcap(tmp_path / "unused.pcap", "#")
    return SippOptions(scenario_file("agent_uas.xml"), local_port=port, media_port=free_media_port(),
                       inf=(agents,), keys={**KEYS, "dispo_pcap": str(unused.path)})


def test_agent_answers_info_reinvite_and_refuses_unknown_methods_mid_call(tmp_path: Path) -> None:
    port = free_udp_port()
    agent, switch = run_pair(tmp_path, agent_options(tmp_path, port), SippOptions(
        FIXTURES / "midcall_uac.xml", local_port=free_udp_port(), media_port=free_media_port(),
        remote=f"127.0.0.1:{port}", keys=KEYS, calls=2, rate=10))
    legs, phone = switch.stats(), agent.stats()
    assert legs is not None and phone is not None
    assert (legs.successful, legs.failed) == (2, 0), switch.diagnostics()
    assert legs.counters["reinvite_ok"] == 2 and legs.counters["refused"] == 2
    assert (phone.successful, phone.failed) == (2, 0)
    assert phone.counters["answered"] == 2 and phone.counters["far_end_hung_up"] == 2


def test_agent_answers_out_of_dialog_options_pings(tmp_path: Path) -> None:
    port = free_udp_port()
    agent, pinger = run_pair(tmp_path, agent_options(tmp_path, port), SippOptions(
        FIXTURES / "options_uac.xml", local_port=free_udp_port(), remote=f"127.0.0.1:{port}",
        calls=3, rate=20))
    pings, phone = pinger.stats(), agent.stats()
    assert pings is not None and phone is not None
    assert (pings.successful, pings.failed) == (3, 0)
    assert phone.counters["out_of_dialog"] == 3 and phone.counters["answered"] == 0
    assert phone.failed == 0


def test_caller_answers_options_and_reinvite_during_its_pauses(tmp_path: Path) -> None:
    callers = tmp_path / "callers.csv"
    cells = ["+447700900001", "200", "1", "1100"] + [""] * 15 + ["0"]
    callers.write_text("SEQUENTIAL\n" + ";".join(cells) + "\n")
    port = free_udp_port()
    switch, caller = run_pair(tmp_path, SippOptions(
        FIXTURES / "midcall_uas.xml", local_port=port, media_port=free_media_port()), SippOptions(
        scenario_file("caller_uac.xml"), local_port=free_udp_port(), media_port=free_media_port(),
        remote=f"127.0.0.1:{port}", service="+442071234567", inf=(callers,), keys=KEYS, calls=2, rate=10))
    calls, far_end = caller.stats(), switch.stats()
    assert calls is not None and far_end is not None
    assert (calls.successful, calls.failed) == (2, 0), caller.diagnostics()
    assert calls.counters["keys_sent"] == 2 and calls.counters["far_end_hung_up"] == 2
    assert far_end.counters["options_ok"] == 2 and far_end.counters["reinvite_ok"] == 2
    assert (far_end.successful, far_end.failed) == (2, 0)


def test_a_stray_response_fails_one_call_and_the_agent_keeps_working(tmp_path: Path) -> None:
    """A response for an unknown call opens a SIPp call with no INVITE: it must fail, not loop."""
    port = free_udp_port()
    agent = SippProcess(agent_options(tmp_path, port), tmp_path / "uas", name="uas").start()
    pinger = SippProcess(SippOptions(FIXTURES / "options_uac.xml", local_port=free_udp_port(),
                                     remote=f"127.0.0.1:{port}", calls=2, rate=20),
                         tmp_path / "uac", name="uac")
    stray = (b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK-stray\r\n"
             b"From: <sip:x@127.0.0.1>;tag=1\r\nTo: <sip:y@127.0.0.1>;tag=2\r\nCall-ID: stray-1@test\r\n"
             b"CSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n")
    try:
        agent.wait_ready(port)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(stray, ("127.0.0.1", port))
        pinger.start()
        assert pinger.wait(20) == 0, pinger.diagnostics()
    finally:
        pinger.stop()
        agent.stop()
    phone = agent.stats()
    assert phone is not None
    assert phone.failed == 1 and phone.counters["out_of_dialog"] == 2
    assert agent.returncode in (0, 1), "SIPp exited normally (no crash from a jump loop)"
