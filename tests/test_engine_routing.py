"""Routing node types (ring_group, queue, transfer, voicemail, callback, hangup, goto) over a
scripted call; the inline flows run over the example pbx."""

from __future__ import annotations

import pytest

from esl_apps.call import BridgeOutcome
from tests.support.flow_harness import BYE, Harness, flow, harness
from tests.support.scripted_call import answer_by, bridge_outcome

# ------------------------------------------------------------------------------ ring group/queue
RING = {
    "r": {
        "type": "ring_group",
        "group": "billing",
        "children": {"answered": "after", "no_answer": "na", "busy": "busy", "failed": "failed"},
    },
    "after": {"type": "play", "prompt": "survey.wav", "children": {"next": "bye"}},
    "na": BYE,
    "busy": BYE,
    "failed": BYE,
    "bye": BYE,
}


def test_ring_group_rings_every_member_endpoint_with_its_timeout(tmp_path):
    h = harness(tmp_path, RING)
    call = h.call()
    trace = h.run(call, "t")
    assert call.of("bridge")[0][1:] == (
        ("user/1007@pbx.example.com", "sofia/internal/sip:1008@pbx.example.com"),
        True,
    )
    assert trace.path == ["r", "na"]
    assert trace.bridges[0]["rang"] == ["grace", "heidi"]


@pytest.mark.parametrize(
    ("outcome", "child"),
    [
        (BridgeOutcome.NO_ANSWER, "na"),
        (BridgeOutcome.BUSY, "busy"),
        (BridgeOutcome.REJECTED, "busy"),
        (BridgeOutcome.UNREACHABLE, "failed"),
        (BridgeOutcome.FAILED, "failed"),
    ],
)
def test_ring_group_outcomes_pick_children(tmp_path, outcome, child):
    h = harness(tmp_path, RING)
    trace = h.run(h.call(bridge=bridge_outcome(outcome)), "t")
    assert trace.path == ["r", child]


def test_ring_group_answered_then_agent_hangs_up_continues_with_answered_child(tmp_path):
    h = harness(tmp_path, RING)
    call = h.call(bridge=answer_by("grace", ended_by="agent"))
    trace = h.run(call, "t")
    assert trace.path == ["r", "after", "bye"]
    assert trace.bridges[0]["answered_by"] == "grace"


def test_ring_group_answered_and_caller_hangs_up_ends_as_bridged(tmp_path):
    h = harness(tmp_path, RING)
    trace = h.run(h.call(bridge=answer_by("heidi", ended_by="caller")), "t")
    assert trace.path == ["r"] and trace.end == "bridged"


def test_queue_rings_the_queue_group(tmp_path):
    nodes = {"q": {"type": "queue", "queue": "support", "children": {"next": "bye"}}, "bye": BYE}
    h = harness(tmp_path, nodes)
    call = h.call()
    trace = h.run(call, "t")
    assert trace.bridges[0]["queue"] == "support"
    assert trace.bridges[0]["rang"] == ["dave", "erin", "frank", "heidi"]


class RecordingRinger:
    def __init__(self):
        self.calls = []

    async def ring(self, call, group_id, ctx):
        from esl_apps.engine import RingOutcome

        self.calls.append((group_id, ctx.queue, ctx.flow, ctx.node, dict(ctx.variables)))
        return RingOutcome(status="busy", cause="USER_BUSY")


def test_an_injected_ringer_replaces_the_default(tmp_path):
    from esl_apps.engine import FlowEngine

    h = harness(tmp_path, RING)
    ringer = RecordingRinger()
    h.engine = FlowEngine(h.config, records=h.records, clock=h.clock, ringer=ringer)
    call = h.call()
    trace = h.run(call, "t")
    assert ringer.calls == [("billing", None, "t", "r", {})]
    assert trace.path == ["r", "busy"] and not call.of("bridge")


class OverflowRinger:
    """Like the ring-group runtime when the group's overflow took the call and returned with the
    caller still on the line."""

    async def ring(self, call, group_id, ctx):
        from esl_apps.engine import RingOutcome

        return RingOutcome(status="no_answer", cause="NO_ANSWER", rang=("grace",),
                           detail={"overflow": "callback", "end": "callback", "callback_request": "cb-1"})


def test_a_call_finished_by_the_group_overflow_ends_the_flow_with_that_outcome(tmp_path):
    from esl_apps.engine import FlowEngine

    h = harness(tmp_path, RING)
    h.engine = FlowEngine(h.config, records=h.records, clock=h.clock, ringer=OverflowRinger())
    call = h.call()
    trace = h.run(call, "t")
    assert trace.path == ["r"] and (trace.end, trace.end_node) == ("callback", "r")  # "na" never runs
    assert call.of("hangup")  # the flow hangs up rather than leave the caller in silence
    assert trace.bridges[0]["end"] == "callback" and trace.bridges[0]["callback_request"] == "cb-1"
    assert trace.steps[0].detail["overflow"] == "callback"


# ----------------------------------------------------------------------- transfer/voicemail/...
def test_transfer_hands_the_call_to_the_dialplan(tmp_path):
    h = harness(tmp_path, {"x": {"type": "transfer", "extension": "2001", "context": "default"}})
    call = h.call()
    trace = h.run(call, "t")
    assert call.actions[-1] == ("transfer", "2001", "default")
    assert trace.end == "transfer" and not call.of("hangup")


def test_voicemail_uses_the_box_number_domain_and_profile(tmp_path):
    h = harness(tmp_path, {"v": {"type": "voicemail", "box": "support"}})
    call = h.call()
    trace = h.run(call, "t")
    assert call.of("voicemail") == [("voicemail", "8002", "pbx.example.com", "default")]
    assert trace.end == "voicemail"


def test_voicemail_returning_early_hangs_up_instead_of_leaving_the_caller_parked(tmp_path):
    h = harness(tmp_path, {"v": {"type": "voicemail", "box": "sales"}})
    call = h.call(voicemail_hangs_up=False)
    h.run(call, "t")
    assert call.actions[-1] == ("hangup", "NORMAL_CLEARING")


CALLBACK = {
    "cb": {"type": "callback", "group": "sales", "children": {"requested": "thanks", "declined": "no"}},
    "thanks": BYE,
    "no": BYE,
}


def test_callback_reads_the_number_back_and_stores_the_request(tmp_path):
    h = harness(tmp_path, CALLBACK)
    call = h.call(caller="+441632960123", inputs=["1"])
    trace = h.run(call, "t")
    assert trace.path == ["cb", "thanks"]
    assert ("say", "en", "number", "iterated", "441632960123") in call.actions
    [stored] = h.stream("callbacks")
    assert stored == {
        "event": "callback_requested",
        "call_uuid": call.uuid,
        "number": "+441632960123",
        "group": "sales",
        "did": "+442071234567",
        "flow": "t",
        "node": "cb",
        "requested_at": "2026-11-23T10:00:03+00:00",
        "status": "pending",
    }


def test_callback_declined_or_withheld_stores_nothing(tmp_path):
    h = harness(tmp_path, CALLBACK)
    assert h.run(h.call(inputs=["2"]), "t").path == ["cb", "no"]
    withheld = h.call(caller="anonymous")
    assert h.run(withheld, "t").path == ["cb", "no"]
    assert not withheld.of("say")
    assert h.stream("callbacks") == []


def test_hangup_node_uses_its_cause(tmp_path):
    h = harness(tmp_path, {"x": {"type": "hangup", "cause": "CALL_REJECTED"}})
    call = h.call()
    trace = h.run(call, "t")
    assert call.actions[-1] == ("hangup", "CALL_REJECTED") and trace.end == "hangup"


def test_goto_continues_in_another_flow(tmp_path):
    h = Harness(
        tmp_path,
        flows={
            "a": flow({"g": {"type": "goto", "flow": "b", "node": "second"}}),
            "b": flow(
                {"first": BYE, "second": {"type": "play", "prompt": "b.wav", "children": {"next": "first"}}}
            ),
            "c": flow({"g": {"type": "goto", "flow": "b"}}),
        },
    )
    trace = h.run(h.call(), "a")
    assert trace.path == ["g", "b:second", "b:first"]
    assert h.run(h.call(), "c").path == ["g", "b:first"]


def test_a_node_without_a_child_for_its_outcome_ends_the_flow_with_a_hangup(tmp_path):
    h = harness(tmp_path, {"p": {"type": "play", "prompt": "x.wav"}})
    call = h.call()
    trace = h.run(call, "t")
    assert trace.end == "flow_end" and call.actions[-1] == ("hangup", "NORMAL_CLEARING")
