"""Any text an admin can put in the YAML yields a dialplan FreeSWITCH reads as intended, or a
configuration error naming the key: never broken XML, never a preprocessor surprise.

FreeSWITCH reads include files line by line before parsing them (switch_xml.c ``preprocess``):
lines with ``<include>``/``</include>``/``<?`` are dropped, ``X-PRE-PROCESS`` lines are acted
on or dropped, ``<!--#`` starts a command and ``$${var}`` is replaced. The properties below check
the XML *and* those line rules.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from esl_apps.dialplan import BuildError, render_dialplan
from esl_apps.dialplan.safety import UnsafeValue, attribute, comment_text
from tests.support.dialplan import example, variant

_HAZARDS = [
    "&", "<", ">", '"', "'", "]]>", "-->", "--", '<!--#include "/etc/passwd"-->', "<include>",
    "</include>", "<?xml", "X-PRE-PROCESS", "x-pre-process", "$${domain}", "${domain}", "\x00",
    "\x01", "\x1b", "\x7f", "\x85", "\ufffe", "\n", "\r", "\t", "é", "☎", "𝄞",
]  # fmt: skip
# Any text a YAML file can carry (lone surrogates cannot be in a file, and pydantic refuses them).
TEXT = st.lists(st.one_of(st.sampled_from(_HAZARDS), st.text(max_size=8)), max_size=6).map("".join)
RAW_TEXT = st.lists(st.one_of(st.sampled_from([*_HAZARDS, "\ud800"]), st.text(max_size=8)), max_size=6).map(
    "".join
)


def _freeswitch_lines_ok(text: str) -> None:
    """The preprocessor leaves every line alone except the two <include> lines."""
    lines = text.splitlines()
    assert lines[0] == "<include>" and lines[-1] == "</include>"
    for line in lines[1:-1]:
        assert "<include>" not in line and "</include>" not in line and "<?" not in line
        assert "x-pre-process" not in line.lower() and "$${" not in line and "<!--#" not in line


@given(text=RAW_TEXT)
def test_comment_text_is_always_a_valid_comment(text: str) -> None:
    rendered = str(comment_text(text))
    root = ET.fromstring(f"<r><!-- {rendered} --></r>")  # raises on '--' or invalid characters
    assert root.tag == "r"
    assert "\n" not in rendered and "$${" not in rendered


@given(text=RAW_TEXT)
def test_attribute_values_round_trip_or_are_refused(text: str) -> None:
    try:
        escaped = attribute(text)
    except UnsafeValue:
        assert re.search(r"[\x00-\x1f\x7f-\x9f\ufffe\uffff\ud800-\udfff]|x-pre-process|\$\$\{", text, re.I)
        return
    element = ET.fromstring(f'<a data="{escaped}"/>')
    assert element.get("data") == text  # what FreeSWITCH's parser hands the application


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(agent_name=TEXT, group_name=TEXT, did_name=TEXT, prompt=TEXT.filter(lambda s: s.strip() != ""))
def test_arbitrary_names_and_prompts_never_produce_invalid_xml(
    agent_name: str, group_name: str, did_name: str, prompt: str
) -> None:
    def names(pbx: dict) -> None:
        pbx["agents"][0]["name"] = agent_name
        pbx["ring_groups"]["sales"]["name"] = group_name
        pbx["dids"][0]["name"] = did_name

    def prompts(flows: dict) -> None:
        flows["main"]["nodes"]["goodbye"]["prompt"] = {"tts": prompt}
        flows["main"]["nodes"]["main_menu"]["prompt"] = [prompt, {"tts": prompt}]

    files = render_dialplan(variant(names, prompts)).files
    for text in files.values():
        root = ET.fromstring(text)
        assert root.tag == "include"
        assert all(child.tag == "extension" for child in root)
        _freeswitch_lines_ok(text)
    # Names are only informative (comments) and prompts are the application's business: the
    # routing part of the dialplan is the same as the example's.
    baseline = render_dialplan(example()).files
    strip = re.compile(r"<!--.*?-->", re.S)
    assert {k: strip.sub("", v) for k, v in files.items()} == {
        k: strip.sub("", v) for k, v in baseline.items()
    }


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(suffix=TEXT)
def test_endpoint_text_is_written_exactly_or_refused_with_its_key(suffix: str) -> None:
    endpoint = "user/1001@" + suffix
    if not endpoint.strip() or any(c in endpoint for c in ",| \t\n"):
        return  # the configuration model already refuses these (esl-apps validate)

    def edit(pbx: dict) -> None:
        pbx["agents"][0]["endpoints"] = [endpoint]

    try:
        config = variant(edit)
    except ValidationError:
        return  # refused by the configuration model, as `esl-apps validate` would
    try:
        files = render_dialplan(config).files
    except BuildError as exc:
        assert [issue.key_path for issue in exc.issues] == ["agents[0].endpoints[0]"]
        assert "cannot be written into the dialplan" in exc.issues[0].message
        return
    for text in files.values():
        _freeswitch_lines_ok(text)
    agents = ET.fromstring(files["default/20_esl_apps_agents.xml"])
    bridge = agents.find("extension[@name='esl_apps_agent_alice']/condition/action[@application='bridge']")
    assert bridge is not None
    assert bridge.get("data") == config.pbx.dial_strings(config.pbx.agents[0])[0]


@pytest.mark.parametrize(
    ("key", "value", "path"),
    [
        ("context", "../../etc", "dialplan.context"),
        ("internal_context", "default\x01", "dialplan.internal_context"),
        ("app_host", "127.0.0.1 8085", "dialplan.app_host"),
    ],
)
def test_unsafe_dialplan_settings_are_configuration_errors(key: str, value: str, path: str) -> None:
    def edit(pbx: dict) -> None:
        pbx["dialplan"][key] = value

    with pytest.raises(BuildError) as caught:
        render_dialplan(variant(edit))
    assert [issue.key_path for issue in caught.value.issues] == [path]
    assert caught.value.issues[0].file.endswith("pbx.yaml") and caught.value.issues[0].line > 1
