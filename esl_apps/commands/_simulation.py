"""One call through the real stack, in-process: emulator -> outbound ESL -> FreeSwitchCall -> engine.

Nothing is faked above the wire: the emulator speaks FreeSWITCH's event-socket protocol over TCP
to the same OutboundServer/FreeSwitchCall that ``esl-apps serve`` uses, so a flow that works here
sends the same commands to a real FreeSWITCH. Only state is in memory (no Redis) and recordings and
the audit go to a scratch directory.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

from esl_apps.commands._dispatch import CallRouter
from esl_apps.commands._runtime import call_handler
from esl_apps.config import Config
from esl_apps.engine import CallTrace, FlowEngine, match_did
from esl_apps.esl.outbound import OutboundServer
from esl_apps.store.records import MemoryRecordLog

__all__ = ["SimulationResult", "agent_behaviours", "parse_at", "parse_digits", "run_simulation"]

AGENT_MODES = ("answer", "no_answer", "busy", "reject", "unregistered")
log = logging.getLogger("esl_apps.simulate")


@dataclass
class SimulationResult:
    trace: dict[str, Any]  # the call's trace record, as stored (esl_apps.engine.trace.CallTrace.as_record)
    did: str
    caller: str
    at: datetime
    workdir: Path
    records: dict[str, list[dict[str, Any]]]
    apps: list[tuple[str, str, str | None]] = field(
        default_factory=list
    )  # (app, arg, response) on the caller leg
    rang: list[tuple[str, str]] = field(default_factory=list)  # (endpoint, outcome)
    recordings: list[dict[str, Any]] = field(default_factory=list)
    hangup_cause: str | None = None
    error: str | None = None
    fallback_actions: list[tuple[str, str]] = field(default_factory=list)  # dialplan actions run after socket


def parse_digits(text: str | None) -> list[str]:
    """``"1,4#"`` -> one entry per prompt; an empty entry (``",1"``) is a prompt the caller lets time out."""
    if not text:
        return []
    entries = [part.strip() for part in text.split(",")]
    for entry in entries:
        if any(c not in "0123456789*#ABCD" for c in entry):
            raise ValueError(f"--digits: {entry!r} is not DTMF (0-9, *, #, A-D; entries separated by commas)")
    return entries


def parse_at(text: str | None, zone: ZoneInfo) -> datetime:
    """An ``--at`` without an offset is read in the DID's business-hours timezone (what an admin
    testing "8 pm at the office" means); with an offset it is taken as given."""
    if not text:
        return datetime.now(UTC)
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"--at: expected an ISO date and time such as 2026-11-23T20:00, got {text!r}"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=zone)


def agent_behaviours(specs: Sequence[str], agent_ids: Sequence[str]) -> dict[str, str]:
    """``["alice=busy", "bob=answer"]`` -> {agent: mode}; unknown agents or modes are errors."""
    modes: dict[str, str] = {}
    for spec in specs:
        agent, sep, mode = spec.partition("=")
        if not sep or mode not in AGENT_MODES:
            raise ValueError(
                f"--agent: expected ID=MODE with MODE one of {', '.join(AGENT_MODES)}, got {spec!r}"
            )
        if agent not in agent_ids:
            raise ValueError(f"--agent: no agent {agent!r} (agents: {', '.join(agent_ids)})")
        modes[agent] = mode
    return modes


def scratch_config(config: Config, workdir: Path) -> Config:
    """The same configuration with recordings and the audit file under ``workdir``."""
    recording = type(config.pbx.recording).model_validate(
        {
            **config.pbx.recording.model_dump(),
            "directory": str(workdir / "recordings"),
            "audit_file": str(workdir / "consent-audit.jsonl"),
        }
    )
    pbx = config.pbx.model_copy(update={"recording": recording})
    return dataclasses.replace(config, pbx=pbx, flows=MappingProxyType(dict(config.flows)))


def _exact(number: str) -> str:
    """A destination_number condition matching exactly this number (PCRE, like the dialplan)."""
    return f"^{re.escape(number)}$"


def generated_dialplan(emu: Any, config: Config, app_port: int, workdir: Path) -> None:
    """Load what ``esl-apps build`` generates (socket to ``app_port``), so the simulated call takes
    the same route as on FreeSWITCH: DID match, esl_apps_* variables, static fallback."""
    from esl_apps.dialplan.builder import render_dialplan

    dialplan = config.pbx.dialplan.model_copy(update={"app_host": "127.0.0.1", "app_port": app_port})
    pbx = config.pbx.model_copy(update={"dialplan": dialplan})
    rendered = render_dialplan(dataclasses.replace(config, pbx=pbx))
    out = workdir / "dialplan"
    for name, text in rendered.files.items():
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    for context_dir in sorted(p for p in out.iterdir() if p.is_dir()):
        emu.load_dialplan_xml(context_dir)


def _dialplan(emu: Any, config: Config, app_port: int, fallback: Sequence[tuple[str, str]] = ()) -> None:
    """A minimal dialplan (tests of inline flows): each DID runs the socket application, then
    ``fallback``; extensions of agents and groups bridge in the internal context."""
    pbx = config.pbx
    context = pbx.dialplan.context
    for did in pbx.dids:
        socket = ("socket", f"127.0.0.1:{app_port} async full")
        emu.add_extension(_exact(did.number), [socket, *fallback], context)
    internal = pbx.dialplan.internal_context
    for agent in pbx.agents:
        if agent.extension and agent.endpoints:
            emu.add_extension(
                _exact(agent.extension), [("bridge", ",".join(pbx.dial_strings(agent)))], internal
            )
    for group_id, group in pbx.ring_groups.items():
        legs = [
            endpoint
            for member in pbx.members_of(group_id)
            if (agent := pbx.agents_by_id.get(member.agent)) is not None
            for endpoint in pbx.dial_strings(agent)
        ]
        if group.extension and legs:
            emu.add_extension(_exact(group.extension), [("bridge", ",".join(legs))], internal)


async def run_simulation(
    config: Config,
    *,
    did: str | None = None,
    caller: str = "+441632960001",
    digits: Sequence[str] = (),
    at: datetime | None = None,
    agents: Mapping[str, str] | None = None,
    hangup_after_s: float | None = None,
    hangup_during: str | None = None,
    variables: Mapping[str, str] | None = None,
    fallback_actions: Sequence[tuple[str, str]] | None = None,
    time_scale: float = 0.002,
    workdir: Path | None = None,
    timeout_s: float = 60.0,
    missing_files: Sequence[str] = (),
) -> SimulationResult:
    from esl_apps.sim.emulator import Emulator
    from esl_apps.sim.scripts import AgentBehaviour, CallerScript

    workdir = workdir or Path(tempfile.mkdtemp(prefix="esl-apps-simulate-"))
    config = scratch_config(config, workdir)
    pbx = config.pbx
    number = did or (pbx.dids[0].number if pbx.dids else "")
    if not number:
        raise ValueError("no DID to call: give --did or add dids to pbx.yaml")
    start = at or datetime.now(UTC)
    emu = Emulator(time_scale=time_scale)
    emu.missing_files.update(missing_files)  # prompt files the switch does not have
    records = MemoryRecordLog()

    def clock() -> datetime:
        return start + timedelta(seconds=emu.clock.elapsed())

    engine = FlowEngine(config, records=records, clock=clock, logger=logging.getLogger("esl_apps.engine"))
    errors: list[str] = []
    from esl_apps.features.dispositions import DispositionApp

    wrapup = DispositionApp(config, records)
    handler = call_handler(CallRouter(config, engine, wrapup=wrapup))

    async def handle(session: Any) -> None:
        try:
            await handler(session)
        except Exception as exc:  # the transport hands the call to the dialplan; report why
            errors.append(f"{type(exc).__name__}: {exc}")
            raise

    server = OutboundServer(handle, "127.0.0.1", 0, max_calls=10)
    await server.start()
    await emu.start()
    try:
        if fallback_actions is None:
            generated_dialplan(emu, config, server.port, workdir)
        else:
            _dialplan(emu, config, server.port, fallback_actions)
        modes = agents or {}
        for agent in pbx.agents:
            mode = modes.get(agent.id, "answer")
            for endpoint in pbx.dial_strings(agent):
                emu.add_endpoint(endpoint, AgentBehaviour(mode=mode, answer_after_s=3.0, talk_s=30.0))
        script = CallerScript(
            digits=tuple(digits), hangup_after_s=hangup_after_s, hangup_during=hangup_during
        )
        emulated = await emu.place_call(
            number, caller_number=caller, script=script, variables=dict(variables) if variables else None
        )
        record = await emulated.wait_done(timeout_s)
        await asyncio.sleep(0.05)  # let the handler store the trace after the last event
    finally:
        await emu.stop()
        await server.stop(1.0)
        await engine.close()
        await wrapup.close()
    stored = {
        name: [_clean(r) async for r in records.read(name)] for name in ("calls", "consent", "callbacks")
    }
    result = SimulationResult(
        trace=stored["calls"][-1] if stored["calls"] else _empty_trace(emulated.uuid, caller, number, start),
        did=number,
        caller=caller,
        at=start,
        workdir=workdir,
        records=stored,
        hangup_cause=record.hangup_cause,
        error=errors[-1] if errors else None,
    )
    result.apps = [(a.app, a.arg, a.response) for a in record.apps if a.leg == record.uuid]
    result.fallback_actions = list(record.fallback_actions)
    result.rang = [(r.endpoint, r.outcome) for r in record.ring_attempts]
    result.recordings = [
        {
            "path": r.path,
            "start": r.start,
            "stop": r.stop,
            "masks": [list(m) for m in r.masks],
            "kind": r.kind,
        }
        for r in record.recordings
    ]
    return result


def _clean(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if not k.startswith("_")}


def _empty_trace(uuid: str, caller: str, did: str, start: datetime) -> dict[str, Any]:
    """No flow ran (the socket never connected, or no flow matched the DID)."""
    trace = CallTrace(call_uuid=uuid, caller=caller, did=did, flow="", started_at=start)
    trace.end = "not run"
    return trace.as_record()


def did_zone(config: Config, number: str | None) -> ZoneInfo:
    """The timezone ``--at`` is read in: the DID's schedule, else the first schedule, else UTC."""
    pbx = config.pbx
    did = match_did(pbx.dids, number) if number else (pbx.dids[0] if pbx.dids else None)
    schedule = pbx.schedule_for_did(did) if did else None
    if schedule is None and pbx.schedules:
        schedule = next(iter(pbx.schedules.values()))
    return schedule.zone if schedule else ZoneInfo("UTC")
