"""Where each configured number goes in the generated dialplan, hunted the way FreeSWITCH hunts.

The first half checks the routing model itself against mod_dialplan_xml's rules (search, not
match; file order; continue; break; anti-actions; $1 substitution). The second half routes every
number of the example configuration through the files ``esl-apps build`` writes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from esl_apps.dialplan import build_dialplan, load_dialplan
from esl_apps.dialplan.contract import wrapup_transfer_target
from esl_apps.dialplan.routing import Action, Dialplan, UnsupportedDialplan, pcre_to_python
from tests.support.dialplan import example


def _dialplan(*files: tuple[str, str]) -> Dialplan:
    dialplan = Dialplan()
    for name, body in sorted(files):
        dialplan.add_file("default", f"<include>\n{body}\n</include>\n", name)
    return dialplan


def _ext(name: str, expression: str, *actions: str, extra: str = "") -> str:
    body = "".join(f'<action application="log" data="{a}"/>' for a in actions)
    return (
        f'<extension name="{name}"{extra}><condition field="destination_number" '
        f'expression="{expression}">{body}</condition></extension>'
    )


# ------------------------------------------------------------------------- FreeSWITCH semantics


def test_expression_is_searched_not_matched() -> None:
    dialplan = _dialplan(("a.xml", _ext("loose", "1001", "loose")))
    assert dialplan.route("default", "910012").extension == "loose"
    anchored = _dialplan(("a.xml", _ext("tight", "^1001$", "tight")))
    assert anchored.route("default", "910012").extension is None
    assert anchored.route("default", "1001").extension == "tight"


def test_first_match_in_file_name_order_wins() -> None:
    # The include glob sorts by name: "10_..." comes before "2_...".
    dialplan = _dialplan(("2_b.xml", _ext("second", "^1", "b")), ("10_a.xml", _ext("first", "^1", "a")))
    route = dialplan.route("default", "1234")
    assert route.matched == ("first",)
    assert route.actions == (Action("log", "a"),)


def test_continue_true_keeps_hunting_and_accumulates_actions() -> None:
    dialplan = _dialplan(
        ("a.xml", _ext("tag", "^1", "tagged", extra=' continue="true"') + _ext("real", "^1234$", "real"))
    )
    route = dialplan.route("default", "1234")
    assert route.matched == ("tag", "real")
    assert [a.data for a in route.actions] == ["tagged", "real"]


def test_capture_groups_substitute_into_action_data() -> None:
    dialplan = _dialplan(
        ("a.xml", _ext("pause", r"^\*23(\d*)$", "reason=$1", "braced=${1}", "var=${domain}"))
    )
    route = dialplan.route("default", "*2307")
    assert [a.data for a in route.actions] == ["reason=07", "braced=07", "var=${domain}"]
    assert dialplan.route("default", "*23").actions[0].data == "reason="


def test_break_anti_action_and_nested_conditions() -> None:
    body = (
        '<extension name="x">'
        '<condition field="caller_id_number" expression="^555" break="never">'
        '<action application="log" data="vip"/><anti-action application="log" data="regular"/></condition>'
        '<condition field="destination_number" expression="^9(\\d+)$">'
        '<condition field="${region}" expression="^uk$"><action application="log" data="uk $1"/></condition>'
        "</condition></extension>"
    )
    dialplan = _dialplan(("a.xml", body))
    vip = dialplan.route("default", "9123", fields={"caller_id_number": "5551"}, variables={"region": "uk"})
    assert vip.extension == "x" and [a.data for a in vip.actions] == ["vip", "uk $1"]
    other = dialplan.route("default", "9123", fields={"caller_id_number": "777"}, variables={"region": "fr"})
    assert other.extension is None  # the nested condition failed, so the extension did not match
    assert [a.data for a in other.actions] == ["regular"]  # ...but its anti-action was queued


def test_pcre_only_syntax_is_translated() -> None:
    assert pcre_to_python(r"^(?<ext>\d+)\z").match("1001").group("ext") == "1001"
    assert pcre_to_python(r"^\Q*21\E$").match("*21")
    assert not pcre_to_python(r"^\d+$").match("١٢٣")  # PCRE's \d is ASCII-only


def test_time_conditions_are_refused_not_guessed() -> None:
    body = '<extension name="t"><condition wday="2-6"><action application="log"/></condition></extension>'
    with pytest.raises(UnsupportedDialplan):
        _dialplan(("a.xml", body))


# -------------------------------------------------------------------------- the example's routes


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Dialplan:
    out = tmp_path_factory.mktemp("dialplan")
    build_dialplan(example(), out)
    return load_dialplan(out)


def test_each_did_reaches_its_ivr_with_and_without_plus(built: Dialplan) -> None:
    for did in example().pbx.dids:
        for dialled in (did.number, did.number.lstrip("+")):
            route = built.route("public", dialled)
            assert route.extension == f"esl_apps_did_{did.number}", dialled
            apps = route.applications()
            assert apps.index("socket") < apps.index("bridge") < apps.index("voicemail")
            assert Action("set", f"esl_apps_did={did.number}") in route.actions
            assert Action("set", f"esl_apps_flow={did.flow}") in route.actions


def test_did_fallback_rings_the_flows_group_then_its_voicemail(built: Dialplan) -> None:
    route = built.route("public", "+442071234567")  # flow main -> error_exit -> group sales
    socket = route.actions.index(Action("socket", "127.0.0.1:8084 async full"))
    after = route.actions[socket + 1 :]
    assert Action("set", "continue_on_fail=true") in after
    assert Action("set", "hangup_after_bridge=true") in after
    bridge = next(a.data for a in after if a.application == "bridge")
    for endpoint in (
        "user/1001@pbx.example.com",
        "user/1002@pbx.example.com",
        "user/1003@pbx.example.com",
        "sofia/gateway/mobile/+447700900003",
    ):
        assert endpoint in bridge  # every sales member, the mobile too; ${domain} filled in
    assert "|" not in bridge  # simultaneous, not sequential
    assert after[-2:] == (
        Action("voicemail", "default pbx.example.com 8001"),
        Action("hangup", "NORMAL_CLEARING"),
    )


def test_internal_numbers_reach_their_extensions(built: Dialplan) -> None:
    pbx = example().pbx
    for agent in pbx.agents:
        route = built.route("default", agent.extension)
        assert route.extension == f"esl_apps_agent_{agent.id}"
        assert route.applications()[-1] in ("bridge", "hangup")
        assert "socket" not in route.applications()
    for gid, group in pbx.ring_groups.items():
        route = built.route("default", group.extension)
        assert route.extension == f"esl_apps_group_{gid}"
        assert Action("set", f"esl_apps_group={gid}") in route.actions


def test_feature_codes_and_pause_reason(built: Dialplan) -> None:
    codes = example().pbx.dialplan.feature_codes
    for feature in ("login", "logout", "pause", "unpause"):
        route = built.route("default", getattr(codes, feature))
        assert route.extension == f"esl_apps_feature_{feature}"
        assert Action("set", f"esl_apps_feature={feature}") in route.actions
        assert route.applications()[route.applications().index("socket") + 1 :]  # a fallback follows
    with_reason = built.route("default", codes.pause + "4")
    assert with_reason.extension == "esl_apps_feature_pause"
    assert Action("set", "esl_apps_feature_arg=4") in with_reason.actions
    assert built.route("default", codes.login + "9").extension is None  # exact codes take no digits


def test_wrapup_lives_in_the_context_transfer_after_bridge_names(built: Dialplan) -> None:
    settings = example().pbx.dialplan
    extension, _, context = wrapup_transfer_target(settings).partition(":XML:")
    route = built.route(context, extension)
    assert route.extension == "esl_apps_wrapup"
    assert route.applications()[:2] == ["set", "socket"]
    # An outside caller cannot reach the disposition prompt.
    assert built.route(settings.context, extension).extension is None


def test_public_and_internal_numbers_do_not_leak_into_each_other(built: Dialplan) -> None:
    pbx = example().pbx
    for agent in pbx.agents:  # outside callers cannot dial agents or groups directly
        assert built.route("public", agent.extension).extension is None
    for group in pbx.ring_groups.values():
        assert built.route("public", group.extension).extension is None
    for did in pbx.dids:  # a DID is not an internal number
        assert built.route("default", did.number).extension is None
    # A DID with an extra digit, or an extension inside a longer number, matches nothing.
    assert built.route("public", "+4420712345670").extension is None
    assert built.route("default", "10010").extension is None


def test_dialplan_loads_from_the_output_directory_in_glob_order(tmp_path: Path) -> None:
    build_dialplan(example(), tmp_path)
    (tmp_path / "default" / ".05_esl_apps_wrapup.xml.abc.tmp").write_text("<include>broken")
    files = [ext.file for ext in load_dialplan(tmp_path).contexts["default"]]
    names = [Path(f).name for f in dict.fromkeys(files)]
    assert names == sorted(names)  # dot files (writer temp files) are not included
