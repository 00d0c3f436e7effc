"""Run one load test: agent UASs (and optionally a switch stand-in), then the caller UAC, then collect.

Everything SIPp writes stays in ``plan.workdir`` (one sub-directory per process), so a failed run
can be examined afterwards: scenario copies of the CSVs, the disposition pcap, SIPp's statistics,
response times, error logs and screens.
"""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from esl_apps.qa.callers import (
    AgentBehaviour,
    CallerScript,
    read_agent_csv,
    read_caller_csv,
    write_agent_csv,
    write_caller_csv,
)
from esl_apps.qa.dtmf_pcap import write_dtmf_pcap
from esl_apps.qa.expectations import expected_records, shortfalls
from esl_apps.qa.redis_view import StreamCounts, deltas, stream_lengths
from esl_apps.qa.registration import REGISTER_XML, Registration, run_registration
from esl_apps.qa.scenarios import AGENT_XML, CALLER_XML, Variant, scenario_file
from esl_apps.qa.sipp_runner import SippFailed, SippOptions, SippProcess, free_media_port
from esl_apps.qa.sipp_stats import (
    Percentiles,
    SippStats,
    rate_per_second,
    read_error_codes,
    read_rtt,
    summarise,
)

WRAPUP_PROMPT_MS = 6000  # caller hangs up -> agent transferred to wrap-up -> prompt, before the code
STANDIN_HANGUP_SLACK_MS = 1500


@dataclass(frozen=True)
class LoadtestPlan:
    target_host: str
    target_port: int
    variant: Variant
    did: str
    rate: float
    limit: int
    calls: int
    caller_csv: Path
    workdir: Path
    audio_pcap: Path
    time_scale: float = 1.0
    agents: int = 0
    agent_base_port: int = 5091
    agent_mode: str | None = None
    answer_delay_ms: int = 2000
    agent_csv: Path | None = None
    disposition: str | None = None
    dispo_after_ms: int | None = None
    standin: bool = False
    local_ip: str = "127.0.0.1"
    caller_port: int | None = None
    media_port_base: int | None = None  # None: a free port per SIPp process
    redis_url: str | None = None
    redis_prefix: str = "esl"
    redis_settle_s: float = 2.0
    max_duration_s: int | None = None
    trace_msg: bool = False
    scenario_dir: Path | None = None
    registration: Registration | None = None


@dataclass(frozen=True)
class Progress:
    elapsed_s: float
    created: int
    successful: int
    failed: int
    current: int
    call_rate: float


@dataclass(frozen=True)
class UasResult:
    role: str
    port: int
    media_port: int
    stats: SippStats | None
    exit_code: int | None
    workdir: Path


@dataclass(frozen=True)
class LoadtestResult:
    plan: LoadtestPlan
    caller: SippStats | None
    caller_exit_code: int | None
    response_times: dict[str, Percentiles]
    answer_rate: float | None
    error_codes: dict[str, int]
    uas: tuple[UasResult, ...]
    registered: int | None
    peak_concurrent: int
    redis_before: StreamCounts | None
    redis_after: StreamCounts | None
    caller_dir: Path
    caller_media_port: int
    problems: tuple[str, ...] = field(default=())

    @property
    def all_succeeded(self) -> bool:
        stats = self.caller
        return (stats is not None and not self.problems and self.caller_exit_code == 0
                and stats.failed == 0 and stats.successful >= self.plan.calls)


def _callers(plan: LoadtestPlan) -> tuple[str, list[CallerScript]]:
    order, scripts = read_caller_csv(plan.caller_csv)
    if plan.time_scale != 1.0:
        scripts = [s.scaled(plan.time_scale) for s in scripts]
    return order, scripts


def _agent_rows(plan: LoadtestPlan, scripts: Sequence[CallerScript], dispo_ms: int) -> list[AgentBehaviour]:
    if plan.agent_csv is not None:
        return read_agent_csv(plan.agent_csv)[1]
    mode = plan.agent_mode or plan.variant.agent_mode
    dispo_after = 0
    if mode == "answer" and dispo_ms:
        longest_talk = max((s.talk_ms for s in scripts), default=0)
        dispo_after = plan.dispo_after_ms if plan.dispo_after_ms is not None else \
            longest_talk + round(WRAPUP_PROMPT_MS * plan.time_scale)
    return [AgentBehaviour(mode, plan.answer_delay_ms, dispo_after, dispo_ms if dispo_after else 0, 0)]


def _standin_rows(scripts: Sequence[CallerScript]) -> list[AgentBehaviour]:
    """The switch stand-in answers at once and hangs up the calls whose caller waits for the far end."""
    rows = []
    for script in scripts:
        hangup_after = script.scripted_ms + STANDIN_HANGUP_SLACK_MS if script.waits_far_end else 0
        rows.append(AgentBehaviour("answer", 0, 0, 0, hangup_after))
    return rows


def _media_port(plan: LoadtestPlan, offset: int) -> int:
    """RTP port of one SIPp process: ``media_port_base + offset``, or any free pair."""
    if plan.media_port_base is None:
        return free_media_port(plan.local_ip)
    return plan.media_port_base + offset


def _uas(plan: LoadtestPlan, role: str, port: int, media_port: int, csv_path: Path,
         keys: dict[str, str]) -> SippProcess:
    options = SippOptions(
        scenario=scenario_file(AGENT_XML, plan.scenario_dir), local_ip=plan.local_ip, local_port=port,
        media_port=media_port, inf=(csv_path,), keys=keys, trace_msg=plan.trace_msg,
    )
    return SippProcess(options, plan.workdir / f"{role}-{port}", name=role)


AGENT_TAIL_MARGIN_S = 15.0  # after the caller is done: the wrap-up prompt, the read-back, FreeSWITCH's BYE


def let_agents_finish(agents: Sequence[SippProcess], tail_s: float, poll_s: float = 1.0) -> None:
    """Dispositions are keyed in wrap-up, after the caller has hung up (the caller's SIPp is done
    by then): wait, at most ``tail_s``, until no agent has a call up before the agents are stopped,
    or their codes never reach the application (seen against FreeSWITCH 1.11.1)."""
    deadline = time.monotonic() + tail_s
    while time.monotonic() < deadline:
        if not any(agent.running and (stats := agent.stats()) is not None and stats.current > 0
                   for agent in agents):
            return
        time.sleep(poll_s)


def run_loadtest(plan: LoadtestPlan, progress: Callable[[Progress], None] | None = None,
                 poll_s: float = 1.0) -> LoadtestResult:
    """Run the plan; raises InjectionFileError/SippFailed/FileNotFoundError before any call is made."""
    plan.workdir.mkdir(parents=True, exist_ok=True)
    order, scripts = _callers(plan)
    caller_csv = write_caller_csv(plan.workdir / "callers.csv", scripts, order=order,
                                  comment=[f"from {plan.caller_csv} (time scale {plan.time_scale:g})"])
    keys = {"audio_pcap": str(plan.audio_pcap)}
    uas_processes: list[tuple[str, int, SippProcess]] = []
    registered: int | None = None
    caller: SippProcess | None = None
    agents_tail_s = 0.0
    agent_ports = [plan.agent_base_port + index for index in range(plan.agents)]
    try:
        if plan.agents:
            digits = plan.disposition if plan.disposition is not None else plan.variant.disposition
            dispo_ms = 0
            dispo_path = plan.workdir / "disposition.pcap"
            if digits:
                dispo_ms = write_dtmf_pcap(dispo_path, digits).duration_ms + 200
            else:
                write_dtmf_pcap(dispo_path, "#")  # the scenario needs a file even if it never plays it
            rows = _agent_rows(plan, scripts, dispo_ms)
            agents_csv = write_agent_csv(plan.workdir / "agents.csv", rows)
            agents_tail_s = max((r.answer_delay_ms + r.dispo_after_ms + r.dispo_ms for r in rows),
                                default=0) / 1000
            for index in range(plan.agents):
                port = plan.agent_base_port + index
                process = _uas(plan, "agent", port, _media_port(plan, 2000 + 20 * index), agents_csv,
                               {**keys, "dispo_pcap": str(dispo_path)})
                uas_processes.append(("agent", port, process.start()))
        if plan.standin:
            standin_csv = write_agent_csv(plan.workdir / "standin.csv", _standin_rows(scripts))
            unused = plan.workdir / "standin-unused.pcap"
            write_dtmf_pcap(unused, "#")
            process = _uas(plan, "standin", plan.target_port, _media_port(plan, 1000), standin_csv,
                           {**keys, "dispo_pcap": str(unused)})
            uas_processes.append(("standin", plan.target_port, process.start()))
        for _role, port, process in uas_processes:
            process.wait_ready(port)
        if plan.registration is not None:
            registered = _register(plan, agent_ports)
            if registered != len(agent_ports):
                raise SippFailed(f"only {registered} of {len(agent_ports)} agents registered with "
                                 f"{plan.registration.server} (wrong password, or domain "
                                 f"{plan.registration.domain!r}?); see {plan.workdir / 'register'}")

        redis_before = stream_lengths(plan.redis_url, plan.redis_prefix) if plan.redis_url else None
        caller = SippProcess(SippOptions(
            scenario=scenario_file(CALLER_XML, plan.scenario_dir), local_ip=plan.local_ip,
            local_port=plan.caller_port, media_port=_media_port(plan, 0),
            remote=f"{plan.target_host}:{plan.target_port}", service=plan.did, inf=(caller_csv,), keys=keys,
            calls=plan.calls, rate=plan.rate, limit=plan.limit, global_timeout_s=plan.max_duration_s,
            trace_msg=plan.trace_msg,
        ), plan.workdir / "caller", name="caller").start()
        peak, interrupted = _watch(caller, progress, poll_s)
        if not interrupted:
            let_agents_finish([p for role, _, p in uas_processes if role == "agent"],
                              agents_tail_s + AGENT_TAIL_MARGIN_S, poll_s)
    finally:
        if caller is not None and caller.running:  # an exception, or a second Ctrl-C: calls are aborted
            caller.stop(grace_s=0)
        if registered:
            with contextlib.suppress(SippFailed, OSError):
                _register(plan, agent_ports, expires=0)
        for _role, _port, process in uas_processes:
            process.stop()

    redis_after = None
    if plan.redis_url:
        time.sleep(plan.redis_settle_s)
        redis_after = stream_lengths(plan.redis_url, plan.redis_prefix)
    stats = caller.stats()
    problems = ["interrupted (Ctrl-C): no new calls were placed after it"] if interrupted else []
    if caller.returncode not in (0, 1):
        detail = caller.diagnostics(600)
        if plan.max_duration_s and "timed out after" in detail:
            problems.append(f"stopped by --max-duration after {plan.max_duration_s} s; calls still running "
                            "were aborted")
        else:
            problems.append(f"sipp (caller) exited with {caller.returncode}: {detail}")
    if stats is None:
        problems.append("sipp wrote no statistics")
    uas = tuple(UasResult(role, port, p.options.media_port or 0, p.stats(), p.returncode, p.workdir)
                for role, port, p in uas_processes)
    for u in uas:  # an agent's failed call (its guard, an unexpected request) fails the run too
        if u.stats is not None and u.stats.failed:
            problems.append(f"{u.role} on port {u.port} failed {u.stats.failed} call(s); see {u.workdir}")
    change = deltas(redis_before, redis_after)
    shipped_flow = plan.caller_csv.name == plan.variant.caller_csv and not plan.standin  # the app's calls
    if change is not None and stats is not None and shipped_flow:
        answered = sum(u.stats.counters.get("answered", 0) for u in uas if u.role == "agent" and u.stats)
        problems.extend(shortfalls(expected_records(plan.variant, stats.successful, answered), change))
    rtt = read_rtt(caller.rtt_csv)
    response = {name: p for name, points in rtt.items() if (p := summarise(v for _, v in points))}
    return LoadtestResult(
        plan=plan,
        caller=stats,
        caller_exit_code=caller.returncode,
        response_times=response,
        answer_rate=rate_per_second([when for when, _ in rtt.get("answer", [])]),
        error_codes=dict(read_error_codes(caller.error_codes_csv)),
        uas=uas,
        registered=registered,
        peak_concurrent=max(peak, stats.current if stats else 0),
        redis_before=redis_before,
        redis_after=redis_after,
        caller_dir=caller.workdir,
        caller_media_port=caller.options.media_port or 0,
        problems=tuple(problems),
    )


def _register(plan: LoadtestPlan, ports: list[int], expires: int | None = None) -> int:
    """Register (or with ``expires=0`` unregister) every agent; all must succeed before calls start."""
    assert plan.registration is not None
    scenario = scenario_file(REGISTER_XML, plan.scenario_dir)
    workdir = plan.workdir / ("unregister" if expires == 0 else "register")
    return run_registration(plan.registration, ports, workdir, scenario, plan.local_ip, expires=expires)


def _watch(caller: SippProcess, progress: Callable[[Progress], None] | None,
           poll_s: float) -> tuple[int, bool]:
    """Wait for the caller to finish, reporting progress from its periodic statistics rows.

    Ctrl-C asks SIPp for a soft stop (no new calls, running calls finish) and keeps watching, so the
    summary still comes; a second Ctrl-C propagates and the caller is stopped at once.
    """
    peak = 0
    interrupted = False
    while True:
        try:
            if caller.wait(poll_s) is not None:
                break
        except KeyboardInterrupt:
            if interrupted:
                raise
            interrupted = True
            caller.signal(signal.SIGUSR1)
            continue
        stats = caller.stats()
        if stats is None:
            continue
        peak = max(peak, stats.current)
        if progress is not None:
            progress(Progress(stats.elapsed_s, stats.created, stats.successful, stats.failed, stats.current,
                              stats.call_rate))
    return peak, interrupted
