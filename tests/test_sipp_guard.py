"""A call nobody ends must FAIL, not pass: the callers' and agents' 10-minute guards (a caller
waiting for the far end's BYE, an agent holding for the caller's). With SIPp 3.6.1 a failed
``check_it`` test only logs, so both sides counted such a call as succeeded (seen against
FreeSWITCH: two callback calls "ok" after 10 minutes). Here a caller that waits for the far end dials
an agent that waits for the caller: neither hangs up. One side's guard is shortened to one 7 s audio
round in a copy of the scenarios; that side must fail the call and end it with a BYE, which the
other side (still inside its own 10 minutes) takes as a normal far-end hangup. Shortening both
guards at once would race: whichever fires first ends the other's call before its guard runs."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest

from esl_apps.qa.loadtest import LoadtestPlan, run_loadtest
from esl_apps.qa.scenarios import AGENT_XML, CALLER_XML, DEFAULT_AUDIO_PCAP, VARIANTS, sipp_dir

pytestmark = [
    pytest.mark.sipp,
    pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp is not installed (sip-tester)"),
    pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="SIPp RTP needs root"),
    pytest.mark.skipif(not DEFAULT_AUDIO_PCAP.exists(), reason="sip-tester's g711a.pcap is missing"),
]

GUARD = 'compare="less_than" value="86"'  # 86 rounds of 7 s: the 10 minutes


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("guarded", ["caller", "agent"])
def test_a_call_neither_side_ends_fails_at_the_guard(tmp_path: Path, guarded: str) -> None:
    scenarios = tmp_path / "sipp"
    shutil.copytree(sipp_dir(), scenarios)
    for name in (CALLER_XML, AGENT_XML):
        text = (scenarios / name).read_text()
        assert text.count(GUARD) == 1, name
    shortened = scenarios / (CALLER_XML if guarded == "caller" else AGENT_XML)
    shortened.write_text(shortened.read_text().replace(GUARD, 'compare="less_than" value="1"'))
    callers = tmp_path / "callers.csv"
    callers.write_text("SEQUENTIAL\n+447700900999;1000;" + ";" * 17 + "0\n")  # no keys; waits for BYE
    port = free_udp_port()
    plan = LoadtestPlan(
        target_host="127.0.0.1", target_port=port, variant=VARIANTS["caller"], did="+442071234567", rate=5,
        limit=5, calls=1, caller_csv=callers, workdir=tmp_path / "run", audio_pcap=DEFAULT_AUDIO_PCAP,
        agents=1, agent_base_port=port, agent_mode="answer", answer_delay_ms=200, disposition="",
        scenario_dir=scenarios, max_duration_s=60,
    )
    result = run_loadtest(plan, poll_s=0.2)
    [agent] = result.uas
    assert result.caller is not None and agent.stats is not None
    caller_outcome = (result.caller.successful, result.caller.failed)
    agent_outcome = (agent.stats.successful, agent.stats.failed)
    failed, ended_by_far_end = (0, 1), (1, 0)
    if guarded == "caller":
        assert (caller_outcome, agent_outcome) == (failed, ended_by_far_end)
        assert agent.stats.counters.get("far_end_hung_up") == 1  # the guard's BYE reached the agent
    else:
        assert (caller_outcome, agent_outcome) == (ended_by_far_end, failed)
        assert result.caller.counters.get("far_end_hung_up") == 1  # the agent's own BYE (SIPp sends none)
        assert [p for p in result.problems if p.startswith(f"agent on port {agent.port} failed 1 call")]
    assert not result.all_succeeded
