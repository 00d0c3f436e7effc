"""``esl-apps simulate`` on the shipped example: what an admin sees, and bad arguments."""

from __future__ import annotations

import json

import pytest

from esl_apps.cli import main


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["simulate", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_simulate_prints_path_prompts_agents_and_consent(capsys):
    code, out, _ = run_cli(capsys, "--digits", ",1", "--at", "2026-11-23T10:00", "--agent", "alice=busy")
    assert code == 0
    assert "Flow: main" in out
    assert "Path: hours -> consent -> vip_check -> main_menu -> sales -> goodbye -> hangup" in out
    assert "prompt  ivr/acme-welcome.wav" in out
    assert "digits  1" in out
    assert "user/1001@pbx.example.com (busy)" in out
    assert "Consent: policy opt_out, decision consented (digit timeout), recording /" in out
    assert "answered_by bob" in out


def test_simulate_at_evening_local_time_is_closed(capsys):
    code, out, _ = run_cli(capsys, "--at", "2026-11-23T20:00", "--digits", "1")
    assert code == 0
    assert "Path: hours -> closed_greeting -> closed_menu -> sales_voicemail" in out
    assert "Ended: voicemail at sales_voicemail" in out


def test_simulate_at_is_read_in_the_did_timezone(capsys):
    # 07:30 London time in July is 06:30 UTC: closed (opens 08:00), whatever the host's zone
    code, out, _ = run_cli(capsys, "--at", "2026-07-06T07:30", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["at"] == "2026-07-06T07:30:00+01:00"
    assert data["path"][:2] == ["hours", "closed_greeting"]


def test_simulate_json_for_the_payment_path(capsys):
    code, out, _ = run_cli(
        capsys, "--digits", ",3,1,4111111111111111#,0530,737", "--at", "2026-11-23T10:00", "--json",
        "--agent", "grace=no_answer", "--agent", "heidi=no_answer",
    )  # fmt: skip
    assert code == 0
    data = json.loads(out)
    assert data["path"][5:9] == ["payment_intro", "card_number", "card_expiry", "card_cvv"]
    assert [s["node"] for s in data["trace"]["mask_spans"]] == ["card_number", "card_expiry", "card_cvv"]
    assert data["consent"][0]["decision"] == "consented"
    assert data["end"] == "voicemail"
    assert "4111111111111111" not in out


def test_simulate_support_line(capsys):
    code, out, _ = run_cli(
        capsys, "--did", "+442071234568", "--digits", "1,1,12345678#", "--at", "2026-11-23T10:00", "--json"
    )
    assert code == 0
    data = json.loads(out)
    assert data["trace"]["flow"] == "support"
    assert data["consent"][0]["policy"] == "opt_in" and data["consent"][0]["decision"] == "consented"
    assert data["path"][:5] == ["consent", "hours", "menu", "account", "read_back"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--digits", "1,x"], "is not DTMF"),
        (["--agent", "alice=dance"], "MODE one of"),
        (["--agent", "nobody=busy"], "no agent 'nobody'"),
        (["--at", "tomorrow"], "expected an ISO date"),
    ],
)
def test_simulate_rejects_bad_arguments(capsys, args, message):
    code, _, err = run_cli(capsys, *args)
    assert code == 2 and message in err


def test_simulate_leaves_logging_as_it_found_it(capsys):
    import logging

    root = logging.getLogger()
    before = (list(root.handlers), root.level, logging.root.manager.disable)
    run_cli(capsys, "--at", "2026-11-23T20:00", "--digits", "1")
    assert (list(root.handlers), root.level, logging.root.manager.disable) == before
