"""Recording consent: 3 policies x (accept / decline / silence / hangup during the prompt).

For each cell: whether recording started (and only after the decision), the exact record stored
in Redis (stream + ``consent:<uuid>`` document) and in the JSONL audit, and the channel variables
that carry the decision into the CDR.
"""

from __future__ import annotations

import asyncio
import stat
from typing import Any

import pytest

from esl_apps.call import CallHangup
from tests.support.flow_harness import Harness
from tests.support.scripted_call import ScriptedCall

UUID = "0f1e2d3c-0000-4000-8000-00000000c0de"
PROMPT = "ivr/recording-notice.wav"


def consent_flow(policy: str) -> dict[str, Any]:
    return {
        "start": "consent",
        "nodes": {
            "consent": {
                "type": "consent",
                "policy": policy,
                "prompt": PROMPT,
                "timeout_s": 4,
                "children": {"recorded": "rec", "not_recorded": "norec"},
            },
            "rec": {"type": "play", "prompt": "recorded.wav", "children": {"next": "bye"}},
            "norec": {"type": "play", "prompt": "not-recorded.wav", "children": {"next": "bye"}},
            "bye": {"type": "hangup"},
        },
    }


BEHAVIOURS: dict[str, dict[str, Any]] = {
    "accept": {"inputs": ["1"]},
    "decline": {"inputs": ["9"]},
    "silence": {"inputs": [None]},
    "hangup": {},  # hangup_on is set per policy: the action that plays the prompt
}

# (policy, behaviour) -> (recorded, digit, decision)
MATRIX: dict[tuple[str, str], tuple[bool, str | None, str]] = {
    ("notify_only", "accept"): (True, None, "notified"),
    ("notify_only", "decline"): (True, None, "notified"),
    ("notify_only", "silence"): (True, None, "notified"),
    ("notify_only", "hangup"): (False, "hangup", "hangup"),
    ("opt_out", "accept"): (True, "1", "consented"),
    ("opt_out", "decline"): (False, "9", "declined"),
    ("opt_out", "silence"): (True, "timeout", "consented"),
    ("opt_out", "hangup"): (False, "hangup", "hangup"),
    ("opt_in", "accept"): (True, "1", "consented"),
    ("opt_in", "decline"): (False, "9", "declined"),
    ("opt_in", "silence"): (False, "timeout", "declined"),
    ("opt_in", "hangup"): (False, "hangup", "hangup"),
}


@pytest.mark.parametrize(("policy", "behaviour"), sorted(MATRIX))
def test_consent_matrix(tmp_path, policy, behaviour):
    recorded, digit, decision = MATRIX[(policy, behaviour)]
    h = Harness(tmp_path, flows={"c": consent_flow(policy)})
    script = dict(BEHAVIOURS[behaviour])
    if behaviour == "hangup":
        script["hangup_on"] = "play" if policy == "notify_only" else "collect"
    # A notify_only caller's keys are never read; leftover inputs would be harmless.
    call = h.call(uuid=UUID, caller="+441632960001", destination="+442071234567", **script)
    trace = h.run(call, "c")

    path = f"{tmp_path}/recordings/2026-11-23/+442071234567/{UUID}.wav"
    prompt_action = ("play", PROMPT) if policy == "notify_only" else "collect"
    names = call.names()
    # 1. recording started only when allowed, and only after the prompt/decision
    if recorded:
        assert call.of("record_start") == [("record_start", path, True)]
        first_prompt = names.index("play" if policy == "notify_only" else "collect")
        assert names.index("record_start") > first_prompt
    else:
        assert call.of("record_start") == []
    if policy != "notify_only":
        [collect] = call.of("collect")
        assert collect[1] == PROMPT
        assert collect[2]["max"] == 1 and collect[2]["tries"] == 1
    else:
        assert call.of("play")[0] == prompt_action

    # 2. the exact stored record (Redis document, Redis stream and the JSONL audit agree)
    expected = {
        "event": "consent_decision",
        "call_uuid": UUID,
        "caller": "+441632960001",
        "did": "+442071234567",
        "flow": "c",
        "policy": policy,
        "prompt": PROMPT,
        "digit": digit,
        "decision": decision,
        # scripted clock: the prompt takes 1 s, a silent caller adds the 4 s timeout
        "decided_at": "2026-11-23T10:00:05+00:00" if digit == "timeout" else "2026-11-23T10:00:01+00:00",
        "recording": path if recorded else "not recorded",
    }
    assert h.doc(f"consent:{UUID}") == expected
    assert h.stream("consent") == [expected]
    assert h.audit == [expected]

    # 3. the decision reaches the CDR as channel variables (not possible after a hangup)
    if behaviour == "hangup":
        assert trace.end == "caller_hangup" and trace.end_node == "consent"
        assert not call.of("set_var")
        assert trace.consent["decision"] == "hangup"
    else:
        assert call.variables["esl_consent_policy"] == policy
        assert call.variables["esl_consent_decision"] == decision
        assert call.variables["esl_recording_path"] == (path if recorded else "not recorded")
        assert trace.path == ["consent", "rec" if recorded else "norec", "bye"]
        # stored before the call continued: the next node's prompt comes after the set_vars
        assert names.index("set_var") < len(names) - 1 - names[::-1].index("play")


def test_record_written_before_the_call_continues(tmp_path):
    """The audit line exists by the time the next node plays anything."""
    h = Harness(tmp_path, flows={"c": consent_flow("opt_out")})
    seen: list[int] = []

    class Watching(ScriptedCall):
        async def play(self, prompt: str) -> str:
            seen.append(len(h.audit))
            return await super().play(prompt)

    call = Watching(uuid=UUID, inputs=["1"], clock=h.clock)
    h.run(call, "c")
    assert seen == [1]


@pytest.mark.parametrize(
    ("destination", "policy"),
    [("+442071234568", "opt_in"), ("+442071234567", "opt_out"), ("+15550001111", "opt_out")],
)
def test_inherit_uses_the_did_policy_else_the_pbx_default(tmp_path, destination, policy):
    h = Harness(tmp_path, flows={"c": consent_flow("inherit")})
    call = h.call(destination=destination, inputs=["1"])
    h.run(call, "c")
    assert h.audit[0]["policy"] == policy


def test_inherit_without_a_node_prompt_uses_the_pbx_prompt_for_the_policy(tmp_path):
    flow = consent_flow("inherit")
    del flow["nodes"]["consent"]["prompt"]
    h = Harness(tmp_path, flows={"c": flow})
    call = h.call(destination="+442071234568", inputs=["1"])
    h.run(call, "c")
    assert call.of("collect")[0][1] == "ivr/acme-recording-press-1-to-allow.wav"


def test_default_tts_prompt_names_the_configured_digit(tmp_path):
    flow = consent_flow("opt_out")
    del flow["nodes"]["consent"]["prompt"]
    h = Harness(tmp_path, flows={"c": flow}, recording={"prompts": {}, "opt_out_key": "8"})
    call = h.call(inputs=["8"])
    h.run(call, "c")
    prompt = call.of("collect")[0][1]
    assert prompt.startswith("say:") and "press 8" in prompt
    assert h.audit[0]["decision"] == "declined"


def test_never_policy_asks_nothing_and_records_nothing(tmp_path):
    h = Harness(tmp_path, flows={"c": consent_flow("never")})
    call = h.call(inputs=["1"])
    trace = h.run(call, "c")
    assert not call.of("collect") and not call.of("record_start")
    assert h.audit[0]["decision"] == "never" and h.audit[0]["digit"] is None
    assert trace.path == ["consent", "norec", "bye"]


def test_recording_files_and_audit_are_private(tmp_path):
    h = Harness(tmp_path, flows={"c": consent_flow("notify_only")})
    h.run(h.call(), "c")
    for directory in (tmp_path / "recordings", tmp_path / "recordings" / "2026-11-23"):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    audit = tmp_path / "audit" / "consent-audit.jsonl"
    assert stat.S_IMODE(audit.stat().st_mode) == 0o600
    assert stat.S_IMODE(audit.parent.stat().st_mode) == 0o700


def test_a_second_consent_node_reuses_the_decision(tmp_path):
    flow = consent_flow("opt_in")
    flow["nodes"]["rec"]["children"] = {"next": "again"}
    flow["nodes"]["norec"]["children"] = {"next": "again"}
    flow["nodes"]["again"] = {"type": "consent", "policy": "opt_out", "children": {"next": "bye"}}
    h = Harness(tmp_path, flows={"c": flow})
    call = h.call(inputs=["9"])
    trace = h.run(call, "c")
    assert len(call.of("collect")) == 1 and len(h.audit) == 1
    assert trace.steps[2].detail == {"reused": True, "decision": "declined"}


def test_switch_refusing_to_record_is_stored_as_not_recorded(tmp_path):
    h = Harness(tmp_path, flows={"c": consent_flow("opt_out")})
    call = h.call(inputs=["1"], refuse=["record_start"])
    trace = h.run(call, "c")
    assert h.audit[0]["decision"] == "consented" and h.audit[0]["recording"] == "not recorded"
    assert trace.path == ["consent", "norec", "bye"]


def test_hangup_as_recording_starts_keeps_the_decision(tmp_path):
    h = Harness(tmp_path, flows={"c": consent_flow("opt_in")})
    call = h.call(inputs=["1"], hangup_on="record_start")
    trace = h.run(call, "c")
    assert h.audit[0]["decision"] == "consented" and h.audit[0]["digit"] == "1"
    assert h.audit[0]["recording"] == "not recorded"
    assert trace.end == "caller_hangup"


# ------------------------------------------------------------------ later recording requests
def _decide_then_request(tmp_path, policy: str, inputs: list[str | None]):
    h = Harness(tmp_path, flows={"c": consent_flow(policy)})
    call = h.call(uuid=UUID, inputs=inputs)
    service = h.engine.consent

    async def scenario():
        from esl_apps.features.consent import ConsentRequest

        request = ConsentRequest(policy=policy, prompt=PROMPT, did="+442071234567", flow="c")
        decision = await service.decide(call, request)
        return decision, await service.request_recording(call, requested_by="agent:alice")

    decision, result = asyncio.run(scenario())
    return h, call, decision, result


def test_request_to_record_a_declined_call_is_refused_and_audited(tmp_path):
    h, call, decision, result = _decide_then_request(tmp_path, "opt_out", ["9"])
    assert decision.decision == "declined" and result is None
    assert not call.of("record_start")
    refusal = h.audit[-1]
    assert refusal == {
        "event": "recording_refused",
        "call_uuid": UUID,
        "requested_by": "agent:alice",
        "requested_at": refusal["requested_at"],
        "decision": "declined",
        "policy": "opt_out",
    }
    assert h.stream("consent")[-1] == refusal


def test_request_to_record_a_consenting_call_returns_the_running_recording(tmp_path):
    _h, call, decision, result = _decide_then_request(tmp_path, "opt_in", ["1"])
    assert result == decision.recording
    assert len(call.of("record_start")) == 1


def test_request_without_any_decision_is_refused_via_channel_state(tmp_path):
    h = Harness(tmp_path, flows={"c": consent_flow("opt_in")})
    call = h.call(variables={"esl_consent_decision": "declined", "esl_consent_policy": "opt_in"})
    assert asyncio.run(h.engine.consent.request_recording(call, requested_by="flow")) is None
    assert h.audit[-1]["decision"] == "declined"
    fresh = h.call()
    assert asyncio.run(h.engine.consent.request_recording(fresh, requested_by="flow")) is None
    assert h.audit[-1]["decision"] == "none"


def test_hangup_during_the_prompt_propagates_after_storing(tmp_path):
    h = Harness(tmp_path, flows={"c": consent_flow("opt_in")})
    call = h.call(hangup_on="collect")

    async def scenario():
        from esl_apps.features.consent import ConsentRequest

        await h.engine.consent.decide(call, ConsentRequest(policy="opt_in", prompt=PROMPT))

    with pytest.raises(CallHangup):
        asyncio.run(scenario())
    assert h.audit[0]["decision"] == "hangup"
