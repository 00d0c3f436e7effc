"""What `esl-apps serve` runs (CallRouter + FlowEngine over the generated dialplan) on a REAL
FreeSWITCH, compared with `esl-apps simulate` (opt-in; docs/live-testing.md). The example's recorded
prompts are not on a lab switch: these calls also show what the application does about that."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from esl_apps.commands._dispatch import CallRouter
from esl_apps.commands._runtime import call_handler
from esl_apps.commands._simulation import run_simulation, scratch_config
from esl_apps.config import Config, load_config
from esl_apps.dialplan import build_dialplan
from esl_apps.engine import FlowEngine
from esl_apps.store.records import MemoryRecordLog
from tests.support.live_fixtures import for_switch, missing_modules, run, settle
from tests.support.live_fs import (
    ENV_RECORDINGS_DIR,
    CallRun,
    DialplanDir,
    FsControl,
    LiveSettings,
    run_socket_call,
)

pytestmark = [pytest.mark.freeswitch, pytest.mark.usefixtures("live")]

LONDON = ZoneInfo("Europe/London")
CLOSED = datetime(2026, 11, 22, 12, 0, tzinfo=LONDON)  # a Sunday: the closed menu
OPEN = datetime(2026, 11, 23, 10, 0, tzinfo=LONDON)  # a Monday morning


@dataclasses.dataclass
class RouterCall:
    run: CallRun
    simulated: Any
    stored: dict[str, list[dict[str, Any]]]

    @property
    def trace(self) -> dict[str, Any]:
        assert self.stored["calls"], "the engine stored no trace"
        return self.stored["calls"][-1]

    def executed(self, app: str) -> list[str]:
        return [e.get("Application-Data") or "" for e in self.run.events
                if e.name == "CHANNEL_EXECUTE" and e.get("Application") == app]


def configure(live: LiveSettings, tmp_path: Path, *, sounds_dir: bool) -> Config:
    """The example, recording where the switch writes; with ``sounds_dir`` an (empty) folder on
    this machine stands for the switch's sounds, so the engine knows the prompts are missing."""
    if missing_modules(live, ("mod_flite",)):
        pytest.skip("the example flow's menus are spoken with mod_flite; load it to run this test")
    config = scratch_config(load_config(), tmp_path / "work")
    pbx: dict[str, Any] = {}
    if live.recordings_dir is not None:
        directory = str(live.recordings_dir / "esl_apps_live")
        pbx["recording"] = config.pbx.recording.model_copy(update={"directory": directory})
    if sounds_dir:
        (tmp_path / "sounds").mkdir()
        pbx["dialplan"] = config.pbx.dialplan.model_copy(update={"sounds_dir": str(tmp_path / "sounds")})
    return dataclasses.replace(config, pbx=config.pbx.model_copy(update=pbx))


def place(live: LiveSettings, dialplan: DialplanDir, app_port: int, tmp_path: Path, config: Config, *,
          at: datetime, dtmf: tuple[str, ...], simulated_digits: list[str]) -> RouterCall:
    """One call to the example's main DID on the switch, and the same call in `simulate` (no phones
    answer on a lab switch: its agents are unregistered there too)."""
    did = config.pbx.dids[0]
    records = MemoryRecordLog()
    engine = FlowEngine(config, records=records, clock=lambda: at)
    handler = call_handler(CallRouter(config, engine))
    build_dialplan(for_switch(config, live.app_host, app_port), dialplan.root)
    assert dialplan.reload() == "+OK [Success]"
    no_phones = {agent.id: "unregistered" for agent in config.pbx.agents}

    async def scenario() -> RouterCall:
        simulated = await run_simulation(config, did=did.number, digits=simulated_digits, at=at,
                                         agents=no_phones, workdir=tmp_path / "simulated")
        async with FsControl(live) as fs:
            result = await run_socket_call(fs, handler, app_port=app_port, destination=did.number.lstrip("+"),
                                           context=config.pbx.dialplan.context, dtmf=dtmf,
                                           hangup_on=("voicemail",), events=("RECORD_START", "RECORD_STOP"),
                                           timeout_s=60)
        await engine.close()
        stored = {name: [r async for r in records.read(name)] for name in ("calls", "consent")}
        return RouterCall(result, simulated, stored)

    call = run(scenario(), 120)
    settle(call.run, tmp_path)
    assert call.run.session is not None and call.run.session.variables.get("esl_apps_entry") == "did"
    assert call.trace["call_uuid"] == call.run.session.uuid and call.trace["flow"] == did.flow
    return call


def test_serve_router_runs_the_did_flow(live: LiveSettings, dialplan: DialplanDir, app_port: int,
                                        tmp_path: Path) -> None:
    """The generated dialplan hands a DID call to what `esl-apps serve` runs, and the call takes the
    same path through the flow as in `esl-apps simulate`."""
    config = configure(live, tmp_path, sounds_dir=True)
    call = place(live, dialplan, app_port, tmp_path, config, at=CLOSED, dtmf=("1",), simulated_digits=["1"])
    assert call.trace["path"] == call.simulated.trace["path"], call.simulated.trace["path"]
    keyed = [step.get("digits") for step in call.trace["steps"] if step.get("digits")]
    assert keyed == ["1"]


def test_serve_router_open_office_records_after_consent_then_overflows(
    live: LiveSettings, dialplan: DialplanDir, app_port: int, tmp_path: Path
) -> None:
    """The caller consents (1): record_session starts after the decision and FreeSWITCH confirms it
    (RECORD_START on the path the decision names); sales (1) has no phones on a lab switch, so the
    call overflows to voicemail, as `simulate` predicts. The missing recorded prompts are left out
    (sounds_dir) and the recording notice is spoken instead."""
    if live.recordings_dir is None:
        pytest.skip(f"set {ENV_RECORDINGS_DIR} to a directory FreeSWITCH writes for the recording test")
    config = configure(live, tmp_path, sounds_dir=True)
    call = place(live, dialplan, app_port, tmp_path, config, at=OPEN, dtmf=("1", "1"),
                 simulated_digits=["1", "1"])
    assert call.trace["path"] == call.simulated.trace["path"], call.simulated.trace["path"]
    assert call.trace["path"][:5] == ["hours", "consent", "vip_check", "main_menu", "sales"]
    consent = call.stored["consent"][-1]
    assert consent["decision"] == "consented" and consent["policy"] == "opt_out"
    started = [e.get("Record-File-Path") for e in call.run.events if e.name == "RECORD_START"]
    assert started == [consent["recording"]]
    collects, recordings = call.executed("play_and_get_digits"), call.executed("record_session")
    assert "say:This call will be recorded" in collects[0]  # the notice, spoken
    order = [e.get("Application") for e in call.run.events if e.name == "CHANNEL_EXECUTE"]
    assert recordings and order.index("play_and_get_digits") < order.index("record_session")


def test_prompt_files_missing_on_the_switch_do_not_skip_the_menu_or_record_unannounced(
    live: LiveSettings, dialplan: DialplanDir, app_port: int, tmp_path: Path
) -> None:
    """No sounds_dir on this machine: only the switch finds out the prompt files are missing, and its
    read gives up at once (no read_result). The recording notice was never heard, so nothing is
    recorded; the menu is collected again with its spoken part, so the caller's 1 still reaches sales."""
    config = configure(live, tmp_path, sounds_dir=False)
    # consent: the notice fails, then a silent retry (the caller keeps quiet); the menu: its
    # file_string fails, then the spoken options, where the caller keys 1
    call = place(live, dialplan, app_port, tmp_path, config, at=OPEN, dtmf=("", "", "", "1"),
                 simulated_digits=["", "1"])
    consent = call.stored["consent"][-1]
    assert consent["decision"] == "not_announced" and consent["recording"] == "not recorded"
    assert call.executed("record_session") == []
    assert call.trace["path"][:5] == ["hours", "consent", "vip_check", "main_menu", "sales"]
    collects = call.executed("play_and_get_digits")
    assert len(collects) == 4 and "file_string://" in collects[2]
    assert "'say:For sales, press 1." in collects[3] and "file_string://" not in collects[3]


def test_card_payment_masks_the_recording_and_keeps_no_card_number(
    live: LiveSettings, dialplan: DialplanDir, app_port: int, tmp_path: Path
) -> None:
    """Billing -> card payment while the call is recorded: FreeSWITCH accepts every uuid_record
    mask/unmask (a refusal would stop the recording: the call must still be recorded at the end),
    one mask span per sensitive collection, and the card number is nowhere in what is stored."""
    if live.recordings_dir is None:
        pytest.skip(f"set {ENV_RECORDINGS_DIR} to a directory FreeSWITCH writes for the recording test")
    config = configure(live, tmp_path, sounds_dir=True)
    card = "4111111111111111"
    keys = ("", "3", "1", card + "#", "0530", "737")  # consent (quiet), billing, pay by card, card
    call = place(live, dialplan, app_port, tmp_path, config, at=OPEN, dtmf=keys, simulated_digits=list(keys))
    trace = call.trace
    assert trace["path"][:8] == ["hours", "consent", "vip_check", "main_menu", "billing_menu",
                                 "payment_intro", "card_number", "card_expiry"]
    assert "card_cvv" in trace["path"] and "payment_taken" in trace["path"]
    spans = trace["mask_spans"]
    assert [s["node"] for s in spans] == ["card_number", "card_expiry", "card_cvv"]
    assert all(s["start"] <= s["end"] for s in spans)
    assert not call.executed("stop_record_session")  # every mask was accepted: still recording
    stored = repr(call.stored) + (tmp_path / "work" / "consent-audit.jsonl").read_text()
    assert card not in stored
    assert any("1111" in prompt for step in trace["steps"] for prompt in step.get("prompts", ()))
