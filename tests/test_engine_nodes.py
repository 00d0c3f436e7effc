"""Every node type, run by the engine over a scripted call (inline flows over the example pbx)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.support.flow_harness import BYE, Harness, example_config, flow, harness
from tests.support.scripted_call import FakeClock


# ------------------------------------------------------------------------------------- play/say
def test_play_plays_each_item_with_its_own_command_and_expands_variables(tmp_path):
    h = harness(
        tmp_path,
        {
            "p": {
                "type": "play",
                "prompt": [
                    "ivr/hello.wav",
                    {"tts": "Hello ${caller_id_number}", "voice": "slt"},
                    {"say": {"type": "number", "value": "${n}"}},
                ],
                "children": {"next": "bye"},
            },
            "bye": BYE,
        },
    )
    call = h.call(variables={"caller_id_number": "1000", "n": "42"})
    trace = h.run(call, "t")
    assert call.actions[1:4] == [
        ("play", "ivr/hello.wav"),
        ("speak", "Hello 1000", "flite", "slt"),
        ("say", "en", "number", "pronounced", "42"),
    ]
    assert trace.steps[0].prompts == ("ivr/hello.wav", "tts:Hello 1000", "say:number:42")
    assert trace.path == ["p", "bye"] and trace.end == "hangup"


def test_play_missing_file_is_logged_and_the_flow_goes_on(tmp_path, caplog):
    h = harness(
        tmp_path, {"p": {"type": "play", "prompt": "ivr/nope.wav", "children": {"next": "bye"}}, "bye": BYE}
    )
    call = h.call(missing_files=["ivr/nope.wav"])
    trace = h.run(call, "t")
    assert trace.steps[0].detail["missing_prompts"] == ["ivr/nope.wav"]
    assert trace.path == ["p", "bye"]
    assert "ivr/nope.wav not found" in caplog.text


def test_say_digits_reads_one_digit_at_a_time(tmp_path):
    h = harness(
        tmp_path,
        {
            "s": {"type": "say", "say": {"type": "digits", "value": "${acct}"}, "children": {"next": "bye"}},
            "bye": BYE,
        },
    )
    call = h.call(variables={"acct": "1234"})
    h.run(call, "t")
    assert ("say", "en", "number", "iterated", "1234") in call.actions


# ------------------------------------------------------------------------------------------ menu
MENU = {
    "type": "menu",
    "prompt": {"tts": "Press 1 or 2"},
    "options": {"1": "one", "2": "two"},
    "max_tries": 3,
    "invalid_prompt": "ivr/invalid.wav",
    "timeout_prompt": "ivr/timeout.wav",
    "children": {"max_tries": "exit"},
}


def menu_nodes(**menu: Any) -> dict[str, Any]:
    return {
        "m": {**MENU, **menu},
        "one": {"type": "play", "prompt": "one.wav", "children": {"next": "bye"}},
        "two": {"type": "play", "prompt": "two.wav", "children": {"next": "bye"}},
        "exit": {"type": "play", "prompt": "exit.wav", "children": {"next": "bye"}},
        "bye": BYE,
    }


def test_menu_option_goes_to_its_target(tmp_path):
    h = harness(tmp_path, menu_nodes())
    call = h.call(inputs=["2"])
    trace = h.run(call, "t")
    assert trace.path == ["m", "two", "bye"]
    assert trace.steps[0].outcome == "option:2" and trace.steps[0].digits == "2"
    collect = call.of("collect")[0]
    assert collect[1] == "say:Press 1 or 2"
    assert collect[2]["max"] == 1 and collect[2]["tries"] == 1


def test_menu_timeout_and_invalid_play_their_prompts_then_accept(tmp_path):
    h = harness(tmp_path, menu_nodes())
    call = h.call(inputs=[None, "7", "1"])
    trace = h.run(call, "t")
    assert trace.path == ["m", "one", "bye"]
    assert trace.steps[0].detail["attempts"] == ["timeout", "invalid", "option:1"]
    plays = [a[1] for a in call.of("play")]
    assert plays == ["ivr/timeout.wav", "ivr/invalid.wav", "one.wav"]


def test_menu_garbage_reaches_max_tries_exit_after_exactly_max_tries(tmp_path):
    h = harness(tmp_path, menu_nodes())
    call = h.call(inputs=["7"] * 50)
    trace = h.run(call, "t")
    assert trace.path == ["m", "exit", "bye"]
    assert len(call.of("collect")) == 3
    assert trace.steps[0].outcome == "max_tries"


def test_menu_silence_reaches_max_tries_exit(tmp_path):
    h = harness(tmp_path, menu_nodes(max_tries=2))
    call = h.call(inputs=[])
    trace = h.run(call, "t")
    assert trace.path == ["m", "exit", "bye"]
    assert len(call.of("collect")) == 2
    # the timeout prompt is not played after the last try: the exit follows at once
    assert [a[1] for a in call.of("play")] == ["ivr/timeout.wav", "exit.wav"]


def test_menu_repeat_key_replays_without_using_a_try_but_is_capped(tmp_path):
    h = harness(tmp_path, menu_nodes(repeat_key="*"))
    call = h.call(inputs=["*", "*", "1"])
    trace = h.run(call, "t")
    assert trace.path == ["m", "one", "bye"]
    assert trace.steps[0].detail["attempts"] == ["repeat", "repeat", "option:1"]

    endless = h.call(inputs=["*"] * 100)
    trace = h.run(endless, "t")
    assert trace.path == ["m", "exit", "bye"]
    assert len(endless.of("collect")) == 5 + 3  # MAX_REPEATS free repeats, then they count as invalid


def test_menu_back_key_returns_to_the_previous_menu(tmp_path):
    nodes = {
        "main": {**MENU, "options": {"1": "sub"}, "children": {"max_tries": "bye"}},
        "sub": {**MENU, "options": {"1": "bye"}, "back_key": "#", "children": {"max_tries": "bye"}},
        "bye": BYE,
    }
    h = harness(tmp_path, nodes)
    call = h.call(inputs=["1", "#", "1", "1"])
    trace = h.run(call, "t")
    assert trace.path == ["main", "sub", "main", "sub", "bye"]
    # '#' is a key in the sub-menu, so it cannot also end digit entry there
    assert call.of("collect")[1][2]["terminators"] == ""
    assert call.of("collect")[0][2]["terminators"] == "#"


def test_menu_back_key_on_the_first_menu_hears_it_again(tmp_path):
    h = harness(tmp_path, menu_nodes(back_key="#"))
    call = h.call(inputs=["#", "2"])
    trace = h.run(call, "t")
    assert trace.path == ["m", "two", "bye"]
    assert trace.steps[0].detail["attempts"] == ["back", "option:2"]


def test_menu_direct_dial_transfers_to_the_extension(tmp_path):
    dd = {"min_digits": 4, "max_digits": 4, "pattern": "^1\\d{3}$", "context": "default"}
    h = harness(tmp_path, menu_nodes(direct_dial=dd))
    call = h.call(inputs=["1003#"])
    trace = h.run(call, "t")
    assert call.actions[-1] == ("transfer", "1003", "default")
    assert trace.end == "transfer" and trace.steps[0].outcome == "direct_dial"
    assert call.of("collect")[0][2]["max"] == 4


def test_menu_direct_dial_outside_the_pattern_is_invalid(tmp_path):
    dd = {"min_digits": 4, "max_digits": 4, "pattern": "^1\\d{3}$"}
    h = harness(tmp_path, menu_nodes(direct_dial=dd))
    call = h.call(inputs=["9999#", "1"])
    trace = h.run(call, "t")
    assert not call.of("transfer")
    assert trace.path == ["m", "one", "bye"]


# --------------------------------------------------------------------------------------- collect
COLLECT = {
    "type": "collect",
    "prompt": {"tts": "Account number"},
    "variable": "acct",
    "min_digits": 4,
    "max_digits": 4,
    "regex": "^\\d{4}$",
    "tries": 2,
    "invalid_prompt": "bad.wav",
    "children": {"ok": "ok", "failed": "failed"},
}


def collect_nodes(**kw: Any) -> dict[str, Any]:
    return {
        "c": {**COLLECT, **kw},
        "ok": {"type": "play", "prompt": {"tts": "You keyed ${acct}"}, "children": {"next": "bye"}},
        "failed": {"type": "play", "prompt": "failed.wav", "children": {"next": "bye"}},
        "bye": BYE,
    }


def test_collect_stores_the_digits_in_the_variable(tmp_path):
    h = harness(tmp_path, collect_nodes())
    call = h.call(inputs=["12#", "1234#"])
    trace = h.run(call, "t")
    assert trace.path == ["c", "ok", "bye"]
    assert ("speak", "You keyed 1234", "flite", "kal") in call.actions
    assert trace.steps[0].digits == "1234"
    args = call.of("collect")[0]
    assert args[2] == {
        "min": 4,
        "max": 4,
        "tries": 2,
        "regex": "^\\d{4}$",
        "terminators": "#",
        "variable": "acct",
    }
    assert ("invalid_prompt", "bad.wav") in call.actions


def test_collect_failure_takes_the_failed_child(tmp_path):
    h = harness(tmp_path, collect_nodes())
    call = h.call(inputs=["99", None])
    trace = h.run(call, "t")
    assert trace.path == ["c", "failed", "bye"]


# ------------------------------------------------------------------------------- set / branches
def test_set_sets_flow_and_channel_variables(tmp_path):
    nodes = {
        "s": {"type": "set", "variables": {"tier": "gold", "n": 5}, "children": {"next": "b"}},
        "b": {"type": "branch_var", "variable": "tier", "cases": {"gold": "g"}, "default": "bye"},
        "g": {"type": "play", "prompt": "gold-${n}.wav", "children": {"next": "bye"}},
        "bye": BYE,
    }
    h = harness(tmp_path, nodes)
    call = h.call()
    trace = h.run(call, "t")
    assert ("set_var", "tier", "gold") in call.actions and ("set_var", "n", "5") in call.actions
    assert trace.path == ["s", "b", "g", "bye"]
    assert ("play", "gold-5.wav") in call.actions


def test_branch_var_reads_channel_variables_and_falls_back_to_default(tmp_path):
    nodes = {
        "b": {"type": "branch_var", "variable": "customer_tier", "cases": {"gold": "g"}, "default": "d"},
        "g": {"type": "play", "prompt": "g.wav", "children": {"next": "bye"}},
        "d": {"type": "play", "prompt": "d.wav", "children": {"next": "bye"}},
        "bye": BYE,
    }
    h = harness(tmp_path, nodes)
    assert h.run(h.call(variables={"customer_tier": "gold"}), "t").path == ["b", "g", "bye"]
    assert h.run(h.call(variables={"customer_tier": "bronze"}), "t").path == ["b", "d", "bye"]
    assert h.run(h.call(), "t").path == ["b", "d", "bye"]


def test_branch_caller_rules_in_order_then_default(tmp_path):
    nodes = {
        "b": {
            "type": "branch_caller",
            "rules": [{"pattern": "^\\+447", "to": "mobile"}, {"pattern": "^\\+44", "to": "uk"}],
            "default": "other",
        },
        "mobile": BYE,
        "uk": BYE,
        "other": BYE,
    }
    h = harness(tmp_path, nodes)
    assert h.run(h.call(caller="+447700900999"), "t").path == ["b", "mobile"]
    assert h.run(h.call(caller="+442079460000"), "t").path == ["b", "uk"]
    assert h.run(h.call(caller="anonymous"), "t").path == ["b", "other"]


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (datetime(2026, 11, 23, 10, 0, tzinfo=UTC), "open"),  # Monday 10:00 GMT
        (datetime(2026, 11, 23, 20, 0, tzinfo=UTC), "closed"),  # Monday evening
        (datetime(2026, 11, 22, 10, 0, tzinfo=UTC), "closed"),  # Sunday
        (datetime(2026, 12, 25, 10, 0, tzinfo=UTC), "holiday"),  # Christmas (a Friday)
        (datetime(2026, 12, 24, 10, 0, tzinfo=UTC), "open"),  # Christmas Eve special hours 08-12
        (datetime(2026, 12, 24, 13, 0, tzinfo=UTC), "holiday"),  # ... and after them
    ],
)
def test_branch_time_open_closed_holiday(tmp_path, at, expected):
    nodes = {
        "t": {
            "type": "branch_time",
            "schedule": "office",
            "children": {"open": "o", "closed": "c", "holiday": "h"},
        },
        "o": BYE,
        "c": BYE,
        "h": BYE,
    }
    h = Harness(tmp_path, clock=FakeClock(at), flows={"t": flow(nodes)})
    trace = h.run(h.call(), "t")
    assert trace.steps[0].outcome == expected
    assert trace.path[1] == expected[0]


def test_branch_time_holiday_falls_back_to_closed(tmp_path):
    nodes = {
        "t": {"type": "branch_time", "schedule": "office", "children": {"open": "o", "closed": "c"}},
        "o": BYE,
        "c": BYE,
    }
    h = Harness(tmp_path, clock=FakeClock(datetime(2026, 12, 25, 10, tzinfo=UTC)), flows={"t": flow(nodes)})
    assert h.run(h.call(), "t").path == ["t", "c"]


def test_a_menu_prompt_file_missing_under_sounds_dir_is_left_out_so_the_caller_can_still_key(tmp_path):
    # On FreeSWITCH a collection whose prompt cannot be opened ends every try at once (switch_ivr_read):
    # the caller could never key. With sounds_dir on this machine the engine knows and leaves it out.
    sounds = tmp_path / "sounds"
    (sounds / "ivr" / "8000").mkdir(parents=True)
    (sounds / "ivr" / "8000" / "here.wav").write_bytes(b"RIFF")
    nodes = menu_nodes()
    nodes["m"]["prompt"] = ["ivr/gone.wav", "ivr/here.wav", {"tts": "Press 1 or 2"}]
    base = example_config().pbx.dialplan
    h = Harness(tmp_path, flows={"t": flow(nodes)},
                pbx={"dialplan": base.model_copy(update={"sounds_dir": str(sounds)})})
    call = h.call(inputs=["2"])
    trace = h.run(call, "t")
    assert call.of("collect")[0][1] == "file_string://ivr/here.wav!say:Press 1 or 2"
    assert trace.path == ["m", "two", "bye"]
    assert trace.steps[0].detail["missing_prompts"] == ["ivr/gone.wav"]
    assert "ivr/gone.wav" not in trace.steps[0].prompts
