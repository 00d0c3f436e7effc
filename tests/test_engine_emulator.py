"""Node types end to end: emulator (FreeSWITCH over TCP) -> OutboundServer -> FreeSwitchCall -> engine.

These assert on what the emulated FreeSWITCH executed (applications and their arguments, ring
attempts, recordings and mask spans), so they catch mistakes the scripted call cannot: quoting of
prompts, the play_and_get_digits argument order, when recording really starts.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

import pytest

from esl_apps.commands._simulation import SimulationResult, run_simulation
from tests.support.flow_harness import make_config

AT = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a Monday, office open
BYE = {"type": "hangup"}


def simulate(
    tmp_path, *, flows: dict[str, Any] | None = None, flow: str | None = None, **kw: Any
) -> SimulationResult:
    config = make_config(tmp_path, flows=flows)
    variables = {"esl_apps_flow": flow} if flow else None
    if flow:  # the generated dialplan sets esl_apps_flow from the DID: use the minimal one
        kw.setdefault("fallback_actions", ())
    return asyncio.run(
        run_simulation(config, at=kw.pop("at", AT), variables=variables, workdir=tmp_path / "sim", **kw)
    )


def apps(result: SimulationResult, name: str) -> list[str]:
    return [arg for app, arg, _ in result.apps if app == name]


def test_prompts_reach_freeswitch_as_speak_playback_and_say(tmp_path):
    flows = {
        "t": {
            "start": "p",
            "nodes": {
                "p": {
                    "type": "play",
                    "prompt": [
                        "ivr/x.wav",
                        {"tts": "Hello there"},
                        {"say": {"type": "digits", "value": "42"}},
                    ],
                    "children": {"next": "bye"},
                },
                "bye": BYE,
            },
        }
    }
    result = simulate(tmp_path, flows=flows, flow="t")
    assert apps(result, "playback") == ["ivr/x.wav"]
    assert apps(result, "speak") == ["flite|kal|Hello there"]
    assert apps(result, "say") == ["en number iterated 42"]
    assert result.trace["path"] == ["p", "bye"] and result.trace["end"] == "hangup"


def test_main_menu_option_rings_sales_and_the_answering_agent_is_recorded(tmp_path):
    result = simulate(tmp_path, digits=["", "1"], agents={"alice": "no_answer", "carol": "busy"})
    assert result.trace["path"][:5] == ["hours", "consent", "vip_check", "main_menu", "sales"]
    [bridge] = apps(result, "bridge")
    assert "user/1001@pbx.example.com" in bridge and "user/1002@pbx.example.com" in bridge
    assert ("user/1002@pbx.example.com", "answered") in result.rang
    assert result.trace["bridges"][0]["answered_by"] == "bob"
    # the menu prompt is one playable string with the TTS chained after the file
    menu = next(a for a in apps(result, "play_and_get_digits") if "acme-welcome" in a)
    assert menu.startswith("1 4 1 5000 # 'file_string://ivr/acme-welcome.wav!say:For sales, press 1.")


def test_direct_dial_transfers_to_the_extension_in_the_dialplan(tmp_path):
    result = simulate(tmp_path, digits=["", "1003#"])
    assert apps(result, "transfer") == ["1003 XML default"]
    assert result.trace["end"] == "transfer"
    assert ("user/1003@pbx.example.com", "answered") in result.rang  # the dialplan's extension rang carol


def test_garbage_at_every_menu_reaches_the_operator_then_voicemail(tmp_path):
    every = {a.id: "no_answer" for a in make_config(tmp_path).pbx.agents}
    result = simulate(tmp_path, digits=["", "7", "8", "9"], agents=every)
    assert result.trace["path"][3:] == ["main_menu", "operator", "sales_voicemail"]
    assert apps(result, "voicemail") == ["default pbx.example.com 8001"]
    assert result.trace["end"] == "voicemail"


@pytest.mark.parametrize(
    ("digits", "recorded", "decision"),
    [(["1"], True, "consented"), (["9"], False, "declined"), ([""], False, "declined")],
)
def test_opt_in_consent_on_the_support_line(tmp_path, digits, recorded, decision):
    result = simulate(tmp_path, did="+442071234568", digits=digits, agents={"dave": "answer"})
    [stored] = result.records["consent"]
    assert stored["policy"] == "opt_in" and stored["decision"] == decision
    names = [app for app, _, _ in result.apps]
    if recorded:
        assert names.index("record_session") > names.index("play_and_get_digits")
        assert result.recordings[0]["path"] == stored["recording"]
        assert result.recordings[0]["start"] is not None
    else:
        assert "record_session" not in names and stored["recording"] == "not recorded"
    # set as one multiset command (one round trip), in this order
    assignments = [item for arg in apps(result, "multiset") for item in arg.removeprefix("^^|").split("|")]
    consent_vars = [a for a in assignments if a.startswith(("esl_consent_", "esl_recording_"))]
    assert consent_vars == [
        "esl_consent_policy=opt_in",
        f"esl_consent_decision={decision}",
        f"esl_recording_path={stored['recording']}",
    ]


def test_caller_hangs_up_during_the_consent_prompt(tmp_path):
    result = simulate(tmp_path, did="+442071234568", hangup_during="play_and_get_digits")
    [stored] = result.records["consent"]
    assert stored["digit"] == "hangup" and stored["recording"] == "not recorded"
    assert result.trace["end"] == "caller_hangup" and result.trace["end_node"] == "consent"
    assert "record_session" not in [app for app, _, _ in result.apps]


def test_card_payment_is_masked_in_the_recording(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    card = "4111111111111111"
    every = {a.id: "no_answer" for a in make_config(tmp_path).pbx.agents}
    result = simulate(tmp_path, digits=["", "3", "1", card + "#", "0530", "737"], agents=every)
    steps = {s["node"]: s for s in result.trace["steps"]}
    assert steps["card_number"]["outcome"] == "ok" and steps["card_number"]["digits"] == "************1111"
    [recording] = [r for r in result.recordings if r["kind"] == "record_session"]
    assert len(recording["masks"]) == 3
    assert all(start is not None and end is not None and start < end for start, end in recording["masks"])
    assert [s["node"] for s in result.trace["mask_spans"]] == ["card_number", "card_expiry", "card_cvv"]
    assert "speak" in [a for a, _, _ in result.apps]
    assert any("ending 1111" in arg for arg in apps(result, "speak"))
    assert card not in caplog.text and card not in str(result.records)


def test_callback_request_is_stored(tmp_path):
    result = simulate(tmp_path, digits=["", "4", "1"], caller="+441632960777")
    assert result.trace["path"][3:6] == ["main_menu", "callback_offer", "callback_thanks"]
    assert apps(result, "say") == ["en number iterated 441632960777"]
    [request] = result.records["callbacks"]
    assert request["number"] == "+441632960777" and request["group"] == "sales"


def test_closed_office_goes_to_voicemail(tmp_path):
    result = simulate(tmp_path, digits=["2"], at=datetime(2026, 11, 23, 20, 0, tzinfo=UTC))
    assert result.trace["path"] == ["hours", "closed_greeting", "closed_menu", "support_voicemail"]
    assert apps(result, "voicemail") == ["default pbx.example.com 8002"]


def test_goto_from_support_to_the_main_menu(tmp_path):
    result = simulate(tmp_path, did="+442071234568", digits=["1", "3", "1"])
    assert result.trace["path"][:4] == ["consent", "hours", "menu", "to_main"]
    assert result.trace["path"][4:6] == ["main:main_menu", "main:sales"]


def test_flow_failure_without_error_exit_leaves_the_call_to_the_dialplan_fallback(tmp_path):
    flows = {"t": {"start": "r", "nodes": {"r": {"type": "ring_group", "group": "missing"}}}}
    result = simulate(tmp_path, flows=flows, flow="t", fallback_actions=[("transfer", "2001 XML default")])
    assert result.error and "missing" in result.error
    assert result.trace["end"] == "error"
    assert ("transfer", "2001 XML default") in result.fallback_actions


def test_flow_failure_with_error_exit_is_handled_by_the_flow(tmp_path):
    flows = {
        "t": {
            "start": "r",
            "error_exit": "sorry",
            "nodes": {
                "r": {"type": "ring_group", "group": "missing"},
                "sorry": {"type": "transfer", "extension": "2002"},
            },
        }
    }
    result = simulate(tmp_path, flows=flows, flow="t")
    assert result.error is None and result.trace["path"] == ["r", "sorry"]
    assert apps(result, "transfer") == ["2002 XML default"]
