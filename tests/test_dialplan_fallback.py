"""The static fallback and the numbers the model derives from the YAML.

The fallback runs after ``socket`` when esl-apps is down; it must never leave a caller in silence,
so each way a configuration can lack a group or a voicemail box is checked here.
"""

from __future__ import annotations

from typing import Any

from esl_apps.dialplan.model import build_model, did_expression, exact_expression, pcre_escape
from esl_apps.dialplan.render import render_files
from esl_apps.dialplan.routing import Dialplan, pcre_to_python
from esl_apps.dialplan.verify import verify
from tests.support.dialplan import example, variant


def _did_fallback(config: Any, number: str = "+442071234567"):
    model = build_model(config)
    return next(did.fallback for did in model.dids if did.number == number)


def test_error_exit_group_wins_over_the_first_group_reachable() -> None:
    def point_error_exit_at_billing(flows: dict) -> None:
        flows["main"]["nodes"]["fallback"]["extension"] = "2003"  # billing's extension

    fallback = _did_fallback(variant(flows_edit=point_error_exit_at_billing))
    assert fallback.group == "billing"
    assert fallback.voicemail is not None and fallback.voicemail.data == "default pbx.example.com 8003"
    assert "user/1007@pbx.example.com" in fallback.bridge


def test_without_error_exit_the_first_ring_group_breadth_first_is_used() -> None:
    def drop_error_exit(flows: dict) -> None:
        del flows["main"]["error_exit"]
        del flows["main"]["nodes"]["fallback"]

    # main: hours -> consent -> vip_check -> main_menu -> option 1 "sales" (ring_group sales).
    assert _did_fallback(variant(flows_edit=drop_error_exit)).group == "sales"


def test_a_queue_node_counts_as_its_group_and_goto_is_followed() -> None:
    def only_queue_via_goto(flows: dict) -> None:
        flows["main"]["start"] = "jump"
        flows["main"]["error_exit"] = "jump"
        flows["main"]["nodes"]["jump"] = {"type": "goto", "flow": "support", "node": "queue"}

    assert _did_fallback(variant(flows_edit=only_queue_via_goto)).group == "support"


def test_no_group_anywhere_falls_back_to_the_first_voicemail_then_to_hangup() -> None:
    def voicemail_only(flows: dict) -> None:
        flows["main"] = {
            "flow": "main",
            "start": "greet",
            "nodes": {
                "greet": {"type": "play", "prompt": "ivr/closed.wav", "children": {"next": "vm"}},
                "vm": {"type": "voicemail", "box": "billing"},
            },
        }

    fallback = _did_fallback(variant(flows_edit=voicemail_only))
    assert fallback.group is None and fallback.bridge == ""
    assert fallback.voicemail is not None and fallback.voicemail.box_id == "billing"

    def nothing(flows: dict) -> None:
        flows["main"] = {"flow": "main", "start": "bye", "nodes": {"bye": {"type": "hangup"}}}

    config = variant(flows_edit=nothing)
    fallback = _did_fallback(config)
    assert fallback.group is None and fallback.voicemail is None
    text = render_files(build_model(config))["public/00_esl_apps_dids.xml"]
    main = text.split('name="esl_apps_did_+442071234567"')[1].split("</extension>")[0]
    assert main.rstrip().endswith(
        '<action application="hangup" data="NORMAL_TEMPORARY_FAILURE"/>\n    </condition>'
    )


def test_group_without_voicemail_lets_freeswitch_return_the_failure_cause() -> None:
    def no_box(pbx: dict) -> None:
        pbx["ring_groups"]["sales"]["voicemail"] = None
        pbx["ring_groups"]["sales"]["overflow"] = []

    config = variant(no_box)
    assert _did_fallback(config).voicemail is None
    dialplan = Dialplan()
    for relpath, text in render_files(build_model(config)).items():
        dialplan.add_file(relpath.split("/")[0], text, relpath)
    apps = dialplan.route("public", "+442071234567").applications()
    tail = apps[apps.index("socket") + 1 :]
    # No continue_on_fail: a busy/unanswered group hangs the caller up with that cause (trace 03a/b).
    assert "voicemail" not in tail and tail[-2:] == ["bridge", "hangup"]
    actions = dialplan.route("public", "+442071234567").actions
    assert all(a.data != "continue_on_fail=true" for a in actions)


def test_overflow_voicemail_is_used_when_the_group_has_no_box() -> None:
    def overflow_box(pbx: dict) -> None:
        pbx["ring_groups"]["billing"]["voicemail"] = None

    model = build_model(variant(overflow_box))
    billing = next(g for g in model.groups if g.id == "billing")
    assert billing.fallback.voicemail is not None and billing.fallback.voicemail.box_id == "billing"


def test_member_timeouts_delays_and_total_timeout_shape_the_legs() -> None:
    def timing(pbx: dict) -> None:
        group = pbx["ring_groups"]["billing"]
        group["total_timeout"] = 30
        group["answer_confirm"] = False
        group["members"] = [{"agent": "grace", "timeout": 40}, {"agent": "heidi", "delay": 10}]

    bridge = next(g for g in build_model(variant(timing)).groups if g.id == "billing").fallback.bridge
    assert bridge == (
        "{ignore_early_media=true}[leg_timeout=30]user/1007@pbx.example.com,"
        "[leg_timeout=20,leg_delay_start=10]sofia/internal/sip:1008@pbx.example.com"
    )


def test_agent_voicemail_by_box_id_or_number_and_multi_endpoint_bridge() -> None:
    def boxes(pbx: dict) -> None:
        pbx["voicemail"]["boxes"]["alice"] = {"number": "8101"}
        pbx["voicemail"]["boxes"]["bobs"] = {"number": "1002"}

    agents = {a.id: a for a in build_model(variant(boxes)).agents}
    assert agents["alice"].voicemail is not None and agents["alice"].voicemail.data.endswith(" 8101")
    assert agents["bob"].voicemail is not None and agents["bob"].voicemail.box_id == "bobs"
    assert agents["dave"].voicemail is None
    assert agents["carol"].bridge == (
        "{ignore_early_media=true}user/1003@pbx.example.com,sofia/gateway/mobile/+447700900003"
    )


def test_expressions_escape_metacharacters_and_accept_both_did_forms() -> None:
    assert exact_expression("*21") == r"^\*21$"
    assert pcre_escape("a.b+c(d)") == r"a\.b\+c\(d\)"
    assert did_expression("+442071234567") == r"^\+?442071234567$"
    assert did_expression("02071234567") == "^02071234567$"
    regex = pcre_to_python(did_expression("+442071234567"))
    assert regex.search("+442071234567") and regex.search("442071234567")
    assert not regex.search("0442071234567") and not regex.search("++442071234567")


def test_overlapping_numbers_fail_the_build_with_a_routing_message() -> None:
    def same_did_twice(pbx: dict) -> None:  # validate accepts it: the strings differ
        pbx["dids"].append({"number": "442071234567", "flow": "support"})

    model = build_model(variant(same_did_twice))
    problems = verify(model, render_files(model))
    assert problems == [
        "dialling 442071234567 in context public reaches extension 'esl_apps_did_+442071234567' "
        "instead of 'esl_apps_did_442071234567'"
    ]


def test_exact_feature_codes_win_over_pause_reason_digits() -> None:
    def clash(pbx: dict) -> None:  # validate only warns: *231 starts with pause's *23
        pbx["dialplan"]["feature_codes"] = {
            "login": "*231",
            "logout": "*22",
            "pause": "*23",
            "unpause": "*24",
        }

    model = build_model(variant(clash))
    assert verify(model, render_files(model)) == []
    dialplan = Dialplan()
    for relpath, text in render_files(model).items():
        dialplan.add_file(relpath.split("/")[0], text, relpath)
    assert dialplan.route("default", "*231").extension == "esl_apps_feature_login"
    assert dialplan.route("default", "*232").extension == "esl_apps_feature_pause"
    assert dialplan.route("default", "*23").extension == "esl_apps_feature_pause"


def test_example_model_matches_the_yaml() -> None:
    model = build_model(example())
    assert [d.number for d in model.dids] == ["+442071234567", "+442071234568"]
    assert [g.id for g in model.groups] == ["billing", "sales", "support"]  # sorted ids
    assert [a.id for a in model.agents] == [a.id for a in example().pbx.agents]  # YAML order
    assert model.socket == "127.0.0.1:8084 async full"
    assert model.wrapup.transfer_target == "7140:XML:default"
    support = next(d for d in model.dids if d.number == "+442071234568")
    assert support.recording_policy == "opt_in" and support.fallback.group == "support"


def test_answer_confirm_groups_ask_the_agent_to_press_1_as_the_runtime_does() -> None:
    from esl_apps.config.pbx import DEFAULT_CONFIRM_PROMPT as CONFIRM_PROMPT

    groups = {g.id: g for g in build_model(example()).groups}
    assert f"group_confirm_key=1,group_confirm_file={CONFIRM_PROMPT}]" in groups["billing"].fallback.bridge
    assert groups["billing"].fallback.bridge.count("group_confirm_key=1") == 2  # grace and heidi
    assert "group_confirm" not in groups["sales"].fallback.bridge
