"""Pure pieces of FreeSwitchCall: dial strings, bridge outcome mapping, play_and_get_digits args/results."""

from __future__ import annotations

import pytest

from esl_apps.call import BridgeOutcome, BridgeTarget, CollectStatus
from esl_apps.esl.bridge_outcome import bridge_result, match_target, outcome_for, parse_originate_causes
from esl_apps.esl.collect import build_collect_args, collect_result
from esl_apps.esl.dialstring import build_dial_string, escape_value

A1 = "sofia/external/agent1@127.0.0.1:5091"
A2 = "sofia/external/agent2@127.0.0.1:5092"


# ---------------------------------------------------------------------------------------------- dial strings


def test_recorded_dial_strings_are_reproduced() -> None:
    # Exactly what the recorded calls sent (03a/03e/03d).
    assert build_dial_string([BridgeTarget(A1, timeout_s=5)]) == "{leg_timeout=5}" + A1
    assert build_dial_string([BridgeTarget(A1, timeout_s=15), BridgeTarget(A2, timeout_s=15)]) == (
        "{leg_timeout=15}" + A1 + "," + A2
    )
    assert build_dial_string(
        [BridgeTarget(A1, timeout_s=4), BridgeTarget(A2, timeout_s=10)], simultaneous=False
    ) == f"[leg_timeout=4]{A1}|[leg_timeout=10]{A2}"


def test_per_leg_delay_and_vars_and_call_vars() -> None:
    dial = build_dial_string(
        [
            BridgeTarget("user/1001", timeout_s=20, leg_vars={"transfer_after_bridge": "7140:XML:public"}),
            BridgeTarget(
                "user/1002", timeout_s=20, delay_s=5, leg_vars={"transfer_after_bridge": "7140:XML:public"}
            ),
        ],
        call_vars={"ignore_early_media": "true", "origination_caller_id_name": "Sales, EU"},
    )
    assert dial == (
        "{ignore_early_media=true,origination_caller_id_name=Sales\\, EU,leg_timeout=20,"
        "transfer_after_bridge=7140:XML:public}user/1001,[leg_delay_start=5]user/1002"
    )


def test_call_var_named_like_a_leg_var_stays_per_leg() -> None:
    dial = build_dial_string([BridgeTarget("user/1", timeout_s=9)], call_vars={"leg_timeout": "30"})
    assert dial == "{leg_timeout=30}[leg_timeout=9]user/1"


@pytest.mark.parametrize("value", ["a'b", "x]y", "{z}", "a|b", "${evil}", "line\nbreak", "back\\slash", ""])
def test_values_freeswitch_would_misparse_are_refused(value: str) -> None:
    with pytest.raises(ValueError):
        escape_value(value)


@pytest.mark.parametrize(
    "endpoint", ["", "noslash", "user/1,user/2", "user/1|user/2", "[x]user/1", "user/ 1"]
)
def test_bad_endpoints_are_refused(endpoint: str) -> None:
    with pytest.raises(ValueError):
        build_dial_string([BridgeTarget(endpoint)])


def test_no_targets_or_bad_timeouts_are_refused() -> None:
    with pytest.raises(ValueError):
        build_dial_string([])
    with pytest.raises(ValueError):
        build_dial_string([BridgeTarget("user/1", timeout_s=0)])
    with pytest.raises(ValueError):
        build_dial_string([BridgeTarget("user/1", leg_vars={"bad key": "x"})])


# ---------------------------------------------------------------------------------------------- outcome


@pytest.mark.parametrize(("disposition", "dialstatus", "outcome"), [
    ("SUCCESS", "SUCCESS", BridgeOutcome.ANSWERED),
    ("ALLOTTED_TIMEOUT", "ALLOTTED_TIMEOUT", BridgeOutcome.NO_ANSWER),
    ("NO_ANSWER", "NOANSWER", BridgeOutcome.NO_ANSWER),
    ("USER_BUSY", "BUSY", BridgeOutcome.BUSY),
    ("CALL_REJECTED", None, BridgeOutcome.REJECTED),
    ("USER_NOT_REGISTERED", "CHANUNAVAIL", BridgeOutcome.UNREACHABLE),
    ("NORMAL_TEMPORARY_FAILURE", None, BridgeOutcome.FAILED),
    (None, "BUSY", BridgeOutcome.BUSY),
    (None, None, BridgeOutcome.FAILED),
])
def test_outcome_comes_from_originate_disposition_then_dialstatus(disposition, dialstatus, outcome) -> None:
    assert outcome_for(disposition, dialstatus) is outcome


def test_originate_causes_single_and_array() -> None:
    assert parse_originate_causes("b1;ALLOTTED_TIMEOUT") == (("b1", "ALLOTTED_TIMEOUT"),)
    assert parse_originate_causes("ARRAY::u1;LOSE_RACE|:u2;NONE") == (("u1", "LOSE_RACE"), ("u2", "NONE"))
    assert parse_originate_causes(None) == ()


def test_answering_target_by_channel_name_number_or_cause_position() -> None:
    targets = [BridgeTarget("user/1001", agent_id="ann"), BridgeTarget("user/1002", agent_id="bob")]
    by_number = match_target(targets, channel_name="sofia/internal/1002@pbx", destination_number="1002")
    assert by_number is targets[1]
    sofia = [BridgeTarget(A1), BridgeTarget(A2)]
    assert match_target(sofia, channel_name=A2, destination_number=None) is sofia[1]
    causes = [("u1", "NONE"), ("u2", "LOSE_RACE")]
    by_position = match_target(targets, channel_name="loopback/x", destination_number="x", leg_causes=causes)
    assert by_position is targets[0]
    assert match_target(targets, channel_name=None, destination_number="9999") is None


def test_stale_last_bridge_hangup_cause_is_ignored() -> None:
    # 03d: a successful ring group still carries the first leg's ALLOTTED_TIMEOUT in last_bridge_hangup_cause.
    result = bridge_result(
        {
            "originate_disposition": "SUCCESS",
            "DIALSTATUS": "SUCCESS",
            "last_bridge_hangup_cause": "ALLOTTED_TIMEOUT",
            "bridge_uuid": "u2",
            "originate_causes": "ARRAY::u1;ALLOTTED_TIMEOUT|:u2;NONE",
        },
        targets=[BridgeTarget(A1, agent_id="a1"), BridgeTarget(A2, agent_id="a2")],
        bridged={"Other-Leg-Channel-Name": A2, "Other-Leg-Destination-Number": "agent2"},
        caller_hung_up=False,
    )
    assert (result.outcome, result.answered_by, result.other_leg_uuid, result.ended_by) == (
        BridgeOutcome.ANSWERED, "a2", "u2", "agent",
    )


def test_failed_bridge_has_no_answerer() -> None:
    result = bridge_result(
        {"originate_disposition": "USER_BUSY", "DIALSTATUS": "BUSY", "bridge_uuid": "stale-from-earlier"},
        targets=[BridgeTarget(A1)], bridged=None, caller_hung_up=False,
    )
    assert (result.outcome, result.cause, result.answered_by, result.other_leg_uuid) == (
        BridgeOutcome.BUSY, "USER_BUSY", None, None,
    )


# ---------------------------------------------------------------------------------------------- collect


def collect_args(**overrides):
    args = dict(
        min_digits=1, max_digits=4, tries=3, timeout_ms=5000, terminators="#", regex=r"\d+",
        invalid_prompt="tone_stream://%(200,0,300)", digit_timeout_ms=None, variable="ivr_choice",
    )
    args.update(overrides)
    return build_collect_args("tone_stream://%(1000,0,600)", **args)


def test_collect_arguments_match_the_recorded_call() -> None:
    expected = "1 4 3 5000 # tone_stream://%(1000,0,600) tone_stream://%(200,0,300) ivr_choice \\d+"
    assert collect_args() == expected


def test_collect_defaults_quoting_and_digit_timeout() -> None:
    args = build_collect_args(
        "say:Press one for sales", min_digits=1, max_digits=1, tries=2, timeout_ms=3000, terminators="",
        regex=None, invalid_prompt=None, digit_timeout_ms=2000, variable="menu",
    )
    assert args == "1 1 2 3000 none 'say:Press one for sales' silence_stream://250 menu ^[0-9*#A-D]+$ 2000"
    with pytest.raises(ValueError):
        collect_args(min_digits=5, max_digits=4)
    with pytest.raises(ValueError):
        collect_args(regex="a b'c")


def test_collect_result_rules() -> None:
    ok = collect_result({"ivr_choice": "12", "read_result": "success", "read_terminator_used": "#"},
                        "ivr_choice", "#", ["1", "2", "#"])
    assert (ok.digits, ok.status, ok.terminator) == ("12", CollectStatus.SUCCESS, "#")
    # read_terminator_used is never cleared: a stale "#" must not be reported when max digits ended input.
    full = collect_result({"ivr_choice": "1234", "read_result": "success", "read_terminator_used": "#"},
                          "ivr_choice", "#", ["1", "2", "3", "4"])
    assert full.terminator is None
    # Digit timeout with enough digits: FreeSWITCH accepts them and says read_result=timeout.
    assert collect_result({"x": "12", "read_result": "timeout"}, "x", "#", ["1", "2"]).ok
    rejected = collect_result({"x_invalid": "9", "read_result": "success"}, "x", "#", ["9", "#"])
    assert (rejected.status, rejected.invalid_digits, rejected.digits) == (CollectStatus.INVALID, "9", "")
    silent = collect_result({"x_invalid": "9", "read_result": "failure"}, "x", "#", ["9", "#"])
    assert (silent.status, silent.invalid_digits) == (CollectStatus.TIMEOUT, "9")
