"""A recording notice the switch cannot play must not turn silence into consent: through the emulator
(FreeSWITCH's read gives up at once on a prompt file it cannot open, as seen on FreeSWITCH 1.11.1)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from esl_apps.commands._simulation import SimulationResult, run_simulation
from tests.support.flow_harness import make_config

AT = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
NOTICE = "ivr/recording-notice.wav"


def consent_flow(policy: str) -> dict[str, Any]:
    return {"t": {"start": "consent", "nodes": {
        "consent": {"type": "consent", "policy": policy, "prompt": NOTICE, "timeout_s": 4,
                    "children": {"recorded": "bye", "not_recorded": "bye"}},
        "bye": {"type": "hangup"},
    }}}


def simulate(tmp_path, policy: str, digits: list[str], **pbx: Any) -> SimulationResult:
    config = make_config(tmp_path, flows=consent_flow(policy), **({"pbx": pbx} if pbx else {}))
    return asyncio.run(run_simulation(config, at=AT, digits=digits, variables={"esl_apps_flow": "t"},
                                      fallback_actions=(), missing_files=[NOTICE], workdir=tmp_path / "sim"))


def apps(result: SimulationResult, name: str) -> list[str]:
    return [arg for app, arg, _ in result.apps if app == name]


@pytest.mark.parametrize(("policy", "digits"), [("opt_out", [""]), ("opt_in", ["1"]), ("notify_only", [])])
def test_an_unplayable_notice_means_not_recorded(tmp_path, policy: str, digits: list[str]) -> None:
    result = simulate(tmp_path, policy, digits)
    [decision] = result.records["consent"]
    assert decision["decision"] == "not_announced" and decision["recording"] == "not recorded"
    assert decision["digit"] == "unplayed"
    assert apps(result, "record_session") == []


def test_with_sounds_dir_the_missing_notice_is_spoken_instead(tmp_path) -> None:
    sounds = tmp_path / "sounds"
    sounds.mkdir()
    base = make_config(tmp_path).pbx.dialplan
    result = simulate(tmp_path, "opt_out", [""], dialplan=base.model_copy(update={"sounds_dir": str(sounds)}))
    [decision] = result.records["consent"]
    assert decision["decision"] == "consented"  # the caller heard the spoken notice and kept quiet
    [collect] = apps(result, "play_and_get_digits")
    assert "say:This call will be recorded" in collect and NOTICE not in collect
    assert len(apps(result, "record_session")) == 1
