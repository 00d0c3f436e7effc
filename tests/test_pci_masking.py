"""PCI: the card payment path of the example main flow, recorded after consent.

Card digits must be masked in the recording for exactly the collection, never logged or stored
(only the configured last 4), and every mask span audited, including when the caller hangs up.
"""

from __future__ import annotations

import json
import logging

import pytest

from esl_apps.engine.nodes.collect import PRIVATE_VARIABLE
from esl_apps.features.pci import log_form, stored_form
from tests.support.flow_harness import Harness

UUID = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
CARD = "4111111111111111"
EXPIRY = "0531"
CVV = "737"
# consent (silence = consent under opt_out), main menu 3 = billing, billing menu 1 = pay by card
PAY = [None, "3", "1", CARD + "#", EXPIRY, CVV]


def run_payment(tmp_path, caplog, **script):
    caplog.set_level(logging.DEBUG, logger="esl_apps")
    h = Harness(tmp_path)
    call = h.call(uuid=UUID, inputs=list(script.pop("inputs", PAY)), **script)
    trace = h.run(call)
    return h, call, trace


def everything_stored(h: Harness, caplog, trace) -> str:
    parts = [caplog.text, json.dumps(trace.as_record()), json.dumps(h.audit)]
    for stream in ("calls", "consent", "callbacks"):
        parts.append(json.dumps(h.stream(stream)))
    return "\n".join(parts)


def test_card_collection_is_masked_and_only_last4_kept(tmp_path, caplog):
    h, call, trace = run_payment(tmp_path, caplog)
    recording = f"{tmp_path}/recordings/2026-11-23/+442071234567/{UUID}.wav"
    assert trace.path[:9] == [
        "hours", "consent", "vip_check", "main_menu", "billing_menu", "payment_intro",
        "card_number", "card_expiry", "card_cvv",
    ]  # fmt: skip
    # mask -> collect -> unmask, around each sensitive collect, on the running recording
    names = call.names()
    first_mask = names.index("record_mask")
    assert names[first_mask : first_mask + 3] == ["record_mask", "collect", "record_unmask"]
    assert call.of("record_mask") == [("record_mask", recording)] * 3
    assert call.of("record_unmask") == [("record_unmask", recording)] * 3
    assert not call.masked
    # the switch's copy of the digits is overwritten; the flow keeps the last 4 only
    card_collect = call.of("collect")[3]
    assert card_collect[2]["variable"] == PRIVATE_VARIABLE
    assert PRIVATE_VARIABLE not in call.variables
    assert call.variables["card_last4"] == "1111"
    assert "card_expiry" not in call.variables and "card_cvv" not in call.variables
    assert ("speak" in names) and any("ending 1111" in a[1] for a in call.of("speak"))
    # the trace shows the masked form only
    steps = {s.node: s for s in trace.steps}
    assert steps["card_number"].digits == "************1111"
    assert steps["card_expiry"].digits == "****"
    assert steps["card_cvv"].digits == "***"
    # no stored or logged text holds the digits
    stored = everything_stored(h, caplog, trace)
    for secret in (CARD, EXPIRY, CVV):
        assert secret not in stored


def test_mask_spans_are_audited_with_node_start_and_end(tmp_path, caplog):
    h, _call, trace = run_payment(tmp_path, caplog)
    spans = [r for r in h.audit if r["event"] == "pci_mask"]
    assert [s["node"] for s in spans] == ["card_number", "card_expiry", "card_cvv"]
    for span in spans:
        assert span["call_uuid"] == UUID and span["flow"] == "main"
        assert span["closed_by"] == "unmask"
        assert span["start"] < span["end"]  # the collect took scripted time inside the span
    assert [dict(s, event="pci_mask") for s in trace.mask_spans] == spans
    assert h.doc(f"trace:{UUID}")["mask_spans"][0]["node"] == "card_number"


def test_hangup_mid_card_entry_still_closes_the_span(tmp_path, caplog):
    h, call, trace = run_payment(tmp_path, caplog, hangup_on="collect", hangup_at=4)
    assert trace.end == "caller_hangup" and trace.end_node == "card_number"
    assert not call.of("record_unmask")  # the channel is gone; nothing to send
    [span] = [r for r in h.audit if r["event"] == "pci_mask"]
    assert span["node"] == "card_number" and span["closed_by"] == "hangup"
    assert span["start"] <= span["end"]
    assert trace.mask_spans[0]["closed_by"] == "hangup"
    assert h.doc(f"trace:{UUID}")["end"] == "caller_hangup"


def test_without_recording_nothing_is_masked_but_digits_stay_hidden(tmp_path, caplog):
    h, call, trace = run_payment(tmp_path, caplog, inputs=["9", *PAY[1:]])  # opted out
    assert not call.of("record_start") and not call.of("record_mask")
    assert trace.mask_spans == []
    assert {s.node: s for s in trace.steps}["card_number"].digits == "************1111"
    assert CARD not in everything_stored(h, caplog, trace)


def test_switch_refusing_to_mask_stops_the_recording_before_card_entry(tmp_path, caplog):
    _h, call, trace = run_payment(tmp_path, caplog, refuse=["record_mask"])
    names = call.names()
    assert names.index("record_stop") < names.index("collect", names.index("record_mask"))
    assert len(call.of("record_mask")) == 1  # later collects know the recording is gone
    assert trace.mask_spans[0]["closed_by"] == "recording_stopped"
    assert not call.of("record_unmask")


@pytest.mark.parametrize(
    ("mode", "stored", "shown"),
    [("none", None, "****************"), ("last4", "1111", "************1111"), ("full", CARD, "*" * 16)],
)
def test_stored_and_log_forms(mode, stored, shown):
    assert stored_form(CARD, mode) == stored
    assert log_form(CARD, mode) == shown


def test_sensitive_collect_cannot_be_configured_to_store_full_digits():
    from pydantic import ValidationError

    from esl_apps.config.flows import CollectNode

    with pytest.raises(ValidationError, match="cannot store the full digits"):
        CollectNode.model_validate(
            {"type": "collect", "prompt": "x.wav", "variable": "v", "sensitive": True, "store": "full"}
        )
    node = CollectNode.model_validate(
        {"type": "collect", "prompt": "x.wav", "variable": "v", "sensitive": True}
    )
    assert node.store_mode == "none"
