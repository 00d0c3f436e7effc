"""Failure paths: caller hangup in every node type, node errors, loops, unknown DIDs."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from esl_apps.engine import FlowError
from tests.support.flow_harness import Harness

BYE = {"type": "hangup"}
AFTER = {"after": {"type": "play", "prompt": "after.wav", "children": {"next": "bye"}}, "bye": BYE}

# node type -> (node definition, the call action during which the caller hangs up, inputs)
HANGUP_CASES: dict[str, tuple[dict[str, Any], str, list[str | None]]] = {
    "play": ({"type": "play", "prompt": "x.wav", "children": {"next": "after"}}, "play", []),
    "say": (
        {"type": "say", "say": {"type": "number", "value": "7"}, "children": {"next": "after"}},
        "say",
        [],
    ),
    "menu": ({"type": "menu", "prompt": "m.wav", "options": {"1": "after"}}, "collect", []),
    "collect": (
        {"type": "collect", "prompt": "c.wav", "variable": "v", "children": {"next": "after"}},
        "collect",
        [],
    ),
    "sensitive collect": (
        {
            "type": "collect",
            "prompt": "c.wav",
            "variable": "v",
            "sensitive": True,
            "children": {"next": "after"},
        },
        "collect",
        [],
    ),
    "consent": ({"type": "consent", "policy": "opt_in", "children": {"next": "after"}}, "collect", []),
    "set": ({"type": "set", "variables": {"a": "b"}, "children": {"next": "after"}}, "set_var", []),
    "ring_group": ({"type": "ring_group", "group": "sales", "children": {"next": "after"}}, "bridge", []),
    "queue": ({"type": "queue", "queue": "support", "children": {"next": "after"}}, "bridge", []),
    "transfer": ({"type": "transfer", "extension": "2001"}, "transfer", []),
    "voicemail": ({"type": "voicemail", "box": "sales"}, "voicemail", []),
    "callback": ({"type": "callback", "children": {"next": "after"}}, "say", []),
    "hangup": ({"type": "hangup"}, "hangup", []),
}


@pytest.mark.parametrize("kind", sorted(HANGUP_CASES))
def test_caller_hangup_in_every_node_type_ends_the_run_cleanly(tmp_path, kind):
    node, action, inputs = HANGUP_CASES[kind]
    h = Harness(tmp_path, flows={"t": {"start": "n", "error_exit": "bye", "nodes": {"n": node, **AFTER}}})
    call = h.call(hangup_on=action, inputs=inputs)
    trace = h.run(call, "t")
    hung_up_at = call.actions.index(("caller_hangup", action))
    assert hung_up_at == len(call.actions) - 1, "the engine sent commands after the hangup"
    assert trace.error is None
    if kind == "voicemail":
        assert trace.end == "voicemail"  # hanging up is how a caller leaves voicemail
    elif kind == "hangup":
        assert trace.end in ("hangup", "caller_hangup")
    else:
        assert trace.end == "caller_hangup" and trace.end_node == "n"
        assert trace.steps[-1].outcome == "caller_hangup"
    assert h.doc(f"trace:{call.uuid}")["end"] == trace.end


@pytest.mark.parametrize("kind", ["branch_time", "branch_caller", "branch_var", "goto"])
def test_hangup_before_a_silent_node_is_noticed_at_the_next_action(tmp_path, kind):
    nodes = {
        "branch_time": {
            "type": "branch_time",
            "schedule": "office",
            "children": {"open": "after", "closed": "after"},
        },
        "branch_caller": {
            "type": "branch_caller",
            "rules": [{"pattern": ".", "to": "after"}],
            "default": "after",
        },
        "branch_var": {"type": "branch_var", "variable": "x", "cases": {"y": "after"}, "default": "after"},
        "goto": {"type": "goto", "flow": "t", "node": "after"},
    }
    h = Harness(tmp_path, flows={"t": {"start": "n", "nodes": {"n": nodes[kind], **AFTER}}})
    call = h.call(hangup_on="play")
    trace = h.run(call, "t")
    assert trace.path == ["n", "after"] and trace.end == "caller_hangup" and trace.end_node == "after"


def test_hangup_during_answer(tmp_path):
    h = Harness(tmp_path)
    call = h.call(hangup_on="answer")
    trace = h.run(call)
    assert trace.end == "caller_hangup" and trace.steps == []


def test_node_error_goes_to_error_exit_and_is_logged_with_the_uuid(tmp_path, caplog):
    flow = {
        "start": "s",
        "error_exit": "sorry",
        "nodes": {
            "s": {"type": "say", "say": {"type": "number", "value": "1"}, "children": {"next": "bye"}},
            "sorry": {"type": "transfer", "extension": "2001"},
            "bye": BYE,
        },
    }
    h = Harness(tmp_path, flows={"t": flow})
    call = h.call(fail_on="say")
    trace = h.run(call, "t")
    assert trace.path == ["s", "sorry"]
    assert trace.steps[0].outcome == "error"
    assert trace.end == "transfer" and trace.error.startswith("t:s: RuntimeError")
    assert call.actions[-1] == ("transfer", "2001", "default")
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert any(call.uuid in r.getMessage() for r in errors)


def test_error_exit_failing_too_propagates_for_the_dialplan_fallback(tmp_path):
    flow = {
        "start": "s",
        "error_exit": "sorry",
        "nodes": {
            "s": {"type": "play", "prompt": "x.wav", "children": {"next": "bye"}},
            "sorry": {"type": "play", "prompt": "sorry.wav", "children": {"next": "bye"}},
            "bye": BYE,
        },
    }
    h = Harness(tmp_path, flows={"t": flow})
    call = h.call(fail_on="play")
    with pytest.raises(RuntimeError):
        h.run(call, "t")
    stored = h.doc(f"trace:{call.uuid}")
    assert stored["end"] == "error" and stored["path"] == ["s", "sorry"]


def test_no_error_exit_propagates(tmp_path):
    flow = {"start": "s", "nodes": {"s": {"type": "play", "prompt": "x.wav"}}}
    h = Harness(tmp_path, flows={"t": flow})
    with pytest.raises(RuntimeError):
        h.run(h.call(fail_on="play"), "t")


def test_a_looping_flow_takes_the_error_exit(tmp_path):
    flow = {
        "start": "a",
        "error_exit": "out",
        "nodes": {
            "a": {"type": "set", "variables": {"x": "1"}, "children": {"next": "b"}},
            "b": {"type": "branch_var", "variable": "x", "cases": {"1": "a"}, "default": "out"},
            "out": {"type": "transfer", "extension": "2001"},
        },
    }
    h = Harness(tmp_path, flows={"t": flow})
    call = h.call()
    trace = h.run(call, "t")
    assert trace.end == "transfer" and "loops" in trace.error
    assert len(trace.steps) <= 202


def test_unknown_group_at_run_time_takes_the_error_exit(tmp_path):
    flow = {
        "start": "r",
        "error_exit": "out",
        "nodes": {"r": {"type": "ring_group", "group": "nope"}, "out": {"type": "voicemail", "box": "sales"}},
    }
    h = Harness(tmp_path, flows={"t": flow})
    trace = h.run(h.call(), "t")
    assert trace.path == ["r", "out"] and "nope" in trace.error and trace.end == "voicemail"


def test_flow_is_chosen_by_did_channel_variable_or_main(tmp_path):
    h = Harness(tmp_path)
    assert h.engine.select_flow(h.call(destination="+442071234568"))[0].flow == "support"
    assert h.engine.select_flow(h.call(destination="02071234568"))[0].flow == "support"  # national form
    assert h.engine.select_flow(h.call(destination="442071234568"))[0].flow == "support"
    assert h.engine.select_flow(h.call(destination="999"))[0].flow == "main"
    chosen = h.engine.select_flow(h.call(destination="999", variables={"esl_apps_flow": "support"}))
    assert chosen[0].flow == "support"
    with pytest.raises(FlowError):
        h.engine.select_flow(h.call(), "nope")


def test_every_step_is_one_structured_log_line(tmp_path, caplog):
    import json

    caplog.set_level(logging.INFO, logger="esl_apps.engine")
    flow = {
        "start": "p",
        "nodes": {"p": {"type": "play", "prompt": "x.wav", "children": {"next": "bye"}}, "bye": BYE},
    }
    h = Harness(tmp_path, flows={"t": flow})
    call = h.call()
    h.run(call, "t")
    steps = [r.structured for r in caplog.records if getattr(r, "structured", {}).get("event") == "ivr_step"]
    assert [(s["node"], s["outcome"]) for s in steps] == [("p", "next"), ("bye", "hangup")]
    assert all(s["call_uuid"] == call.uuid for s in steps)
    assert json.loads(caplog.records[0].getMessage())["node"] == "p"
