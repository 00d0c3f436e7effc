"""One test per class of configuration error: each asserts the exact file:line and key path.

Every test starts from the shipped example conf/ plus small stable test flows
(tests/fixtures/config/flows), breaks one thing, and looks for the issue at the line where the
broken text now is (found by searching the edited file, so the expectation is exact).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.config_tree import Tree


@pytest.fixture
def tree(tmp_path: Path) -> Tree:
    return Tree(tmp_path)


def test_the_unbroken_tree_is_valid(tree: Tree) -> None:
    config = tree.load()
    assert set(config.flows) == {"main", "support"}
    assert config.warnings == ()


# ------------------------------------------------------------------ YAML level


def test_yaml_syntax_error_names_its_line(tree: Tree) -> None:
    tree.edit("pbx.yaml", "  port: 8021\n", "  port: 8021: 8022\n")
    issue = tree.assert_at("pbx.yaml", "(root)", "  port: 8021: 8022", "YAML syntax error")
    assert issue.column == 13


def test_duplicate_key_points_at_the_second_one(tree: Tree) -> None:
    tree.edit("pbx.yaml", "    strategy: round_robin\n", "    strategy: round_robin\n    strategy: random\n")
    tree.assert_at(
        "pbx.yaml",
        "ring_groups.sales.strategy",
        "    strategy: random",
        "duplicate key 'strategy'",
        f"first defined on line {tree.line_of('pbx.yaml', '    strategy: round_robin')}",
    )


def test_duplicate_dtmf_key_in_a_menu(tree: Tree) -> None:
    tree.edit("main.yaml", '      "4": callback\n', '      "4": callback\n      4: sales\n')
    tree.assert_at("main.yaml", "nodes.welcome.options.4", "      4: sales", "duplicate key '4'")


def test_empty_and_non_mapping_files(tree: Tree) -> None:
    tree.write("dispositions.yaml", "")
    tree.write("support.yaml", "- just\n- a list\n")
    issues = tree.issues()
    assert any(i.file.endswith("dispositions.yaml") and "file is empty" in i.message for i in issues)
    assert any(i.file.endswith("support.yaml") and "got a list" in i.message and i.line == 1 for i in issues)


def test_missing_file_is_reported_not_raised(tree: Tree) -> None:
    tree.path("dispositions.yaml").unlink()
    issue = tree.issue("dispositions.yaml", "(root)")
    assert (issue.line, issue.message) == (1, "file not found")


# ------------------------------------------------------------------ model level


def test_unknown_key_suggests_the_right_one(tree: Tree) -> None:
    tree.edit("pbx.yaml", "    ring_timeout: 15\n", "    ring_timout: 15\n")
    tree.assert_at(
        "pbx.yaml", "ring_groups.support.ring_timout", "    ring_timout: 15", "did you mean 'ring_timeout'?"
    )


def test_missing_required_key_points_at_its_parent(tree: Tree) -> None:
    tree.edit("pbx.yaml", "    name: Carol Cooper\n", "")
    issue = tree.assert_at("pbx.yaml", "agents[2].name", "  - id: carol", "required key 'name' is missing")
    assert issue.column == 5


def test_bad_choice_lists_the_allowed_values(tree: Tree) -> None:
    tree.edit("pbx.yaml", "strategy: round_robin", "strategy: roundrobin")
    tree.assert_at(
        "pbx.yaml", "ring_groups.sales.strategy", "strategy: roundrobin", "'round_robin'", "roundrobin"
    )


def test_literal_esl_password_is_refused_with_the_reason(tree: Tree) -> None:
    tree.edit("pbx.yaml", "  password_env: ESL_APPS_ESL_PASSWORD", "  password: ClueCon")
    issue = tree.assert_at(
        "pbx.yaml", "esl.password", "  password: ClueCon", "literal password is not allowed"
    )
    assert "ClueCon" not in str(issue)  # never echo a secret back
    assert "password_env" in issue.message


def test_esl_needs_a_password_source(tree: Tree) -> None:
    tree.edit("pbx.yaml", "  password_env: ESL_APPS_ESL_PASSWORD", "  max_calls: 10")
    tree.edit("pbx.yaml", "  max_calls: 2000 ", "  connect_timeout: 3 ")
    tree.assert_at("pbx.yaml", "esl", "esl:", "exactly one of password_env")


def test_unknown_timezone(tree: Tree) -> None:
    tree.edit(
        "pbx.yaml",
        '    timezone: Europe/London\n    weekly:\n      mon-fri: ["08:00-20:00"]',
        '    timezone: Europe/Londn\n    weekly:\n      mon-fri: ["08:00-20:00"]',
    )
    tree.assert_at(
        "pbx.yaml", "schedules.support_hours.timezone", "timezone: Europe/Londn", "unknown timezone"
    )


def test_bad_opening_hours_and_days(tree: Tree) -> None:
    tree.edit("pbx.yaml", 'sat: ["09:00-13:00"]', 'sat: ["13:00-09:00"]')
    tree.edit("pbx.yaml", "      sat,sun:", "      sat-mon:")
    issues = tree.issues()
    hours = [i for i in issues if i.key_path == "schedules.office.weekly.sat[0]"]
    assert hours and hours[0].line == tree.line_of("pbx.yaml", '"13:00-09:00"')
    assert "closing time must be after opening time" in hours[0].message
    days = [i for i in issues if i.key_path == "schedules.support_hours.weekly.sat-mon"]
    assert days and days[0].line == tree.line_of("pbx.yaml", "sat-mon:")


def test_bad_extension_digits(tree: Tree) -> None:
    tree.edit("pbx.yaml", 'extension: "1002"', 'extension: "10x2"')
    tree.assert_at("pbx.yaml", "agents[1].extension", "{id: bob", "expected 1 to 15 digits", "10x2")


def test_menu_option_colliding_with_repeat_key(tree: Tree) -> None:
    tree.edit("main.yaml", '      "4": callback\n', '      "4": callback\n      "*": sales\n')
    tree.assert_at(
        "main.yaml", "nodes.welcome.repeat_key", "repeat_key:", "repeat_key '*' is also a menu option"
    )


# ------------------------------------------------------------------ references in pbx.yaml


def test_member_naming_a_missing_agent(tree: Tree) -> None:
    tree.edit("pbx.yaml", "      - bob\n", "      - bobby\n")
    tree.assert_at(
        "pbx.yaml",
        "ring_groups.sales.members[1]",
        "      - bobby",
        "agent 'bobby' is not defined",
        "did you mean 'bob'?",
    )


def test_group_naming_missing_overflow_group_box_and_queue(tree: Tree) -> None:
    tree.edit("pbx.yaml", "to: {group: billing}", "to: {group: biling}")
    tree.edit("pbx.yaml", "to: {voicemail: support}", "to: {voicemail: suport}")
    tree.edit("pbx.yaml", "    queue: support\n", "    queue: helpdesk\n")
    tree.edit("pbx.yaml", "    voicemail: billing\n", "    voicemail: accounts\n")
    tree.assert_at(
        "pbx.yaml",
        "ring_groups.sales.overflow[0].to.group",
        "to: {group: biling}",
        "ring group 'biling' is not defined",
    )
    tree.assert_at(
        "pbx.yaml",
        "ring_groups.support.overflow[1].to.voicemail",
        "to: {voicemail: suport}",
        "voicemail box 'suport'",
    )
    tree.assert_at(
        "pbx.yaml", "ring_groups.support.queue", "queue: helpdesk", "queue 'helpdesk' is not defined"
    )
    tree.assert_at(
        "pbx.yaml", "ring_groups.billing.voicemail", "voicemail: accounts", "voicemail box 'accounts'"
    )


def test_did_naming_a_missing_flow_and_schedule(tree: Tree) -> None:
    tree.edit(
        "pbx.yaml",
        "    flow: support\n    schedule: support_hours\n",
        "    flow: suport\n    schedule: weekends\n",
    )
    tree.assert_at(
        "pbx.yaml",
        "dids[1].flow",
        "    flow: suport",
        "flow 'suport' is not defined",
        "did you mean 'support'?",
    )
    tree.assert_at("pbx.yaml", "dids[1].schedule", "    schedule: weekends", "schedule 'weekends'")


def test_ring_group_with_no_members(tree: Tree) -> None:
    tree.edit("pbx.yaml", "    members: [dave, erin, frank]\n", "    members: []\n")
    # heidi names support in her own groups, so she alone would still ring: drop that too
    tree.edit("pbx.yaml", "    groups: [support]", "    groups: []")
    tree.assert_at("pbx.yaml", "ring_groups.support.members", "    members: []", "has no members")


def test_agent_with_no_endpoint(tree: Tree) -> None:
    tree.edit("pbx.yaml", ', endpoints: ["user/1004@${domain}"]', "")
    tree.assert_at("pbx.yaml", "agents[3]", "{id: dave", "agent 'dave' has no endpoints")


def test_overlapping_feature_codes_and_numbers(tree: Tree) -> None:
    tree.edit("pbx.yaml", 'pause: "*23"', 'pause: "*21"')
    tree.edit("pbx.yaml", '    extension: "2003"', '    extension: "1001"')
    tree.assert_at(
        "pbx.yaml",
        "dialplan.feature_codes.pause",
        'pause: "*21"',
        "*21 is already used by feature code login",
    )
    tree.assert_at(
        "pbx.yaml", "ring_groups.billing.extension", '    extension: "1001"', "already used by agent 'alice'"
    )


def test_overflow_loop_between_groups(tree: Tree) -> None:
    tree.edit(
        "pbx.yaml",
        "      - {when: [no_answer, all_busy, closed], to: {voicemail: billing}}",
        "      - {when: [no_answer], to: {group: sales}}",
    )
    tree.assert_at(
        "pbx.yaml",
        "ring_groups.billing.overflow[0].to.group",
        "to: {group: sales}",
        "overflow loop: sales -> billing -> sales",
    )


# ------------------------------------------------------------------ dispositions.yaml


def test_duplicate_disposition_code(tree: Tree) -> None:
    tree.edit("dispositions.yaml", '{code: "51", label: Negative', '{code: "50", label: Negative')
    tree.assert_at(
        "dispositions.yaml",
        "codes[14].code",
        '{code: "50", label: Negative',
        "code 50 is defined twice (first at codes[13])",
    )


def test_codebook_references(tree: Tree) -> None:
    tree.edit("dispositions.yaml", "category: intent}", "category: intnet}")
    tree.edit("dispositions.yaml", 'default_code: "24"', 'default_code: "99"')
    tree.edit("dispositions.yaml", '  busy: "12"', '  busy: "19"')
    tree.assert_at(
        "dispositions.yaml",
        "codes[12].category",
        "category: intnet}",
        "category 'intnet'",
        "did you mean 'intent'?",
    )
    tree.assert_at("dispositions.yaml", "default_code", 'default_code: "99"', "code '99' is not defined")
    tree.assert_at("dispositions.yaml", "system_codes.busy", '  busy: "19"', "code '19' is not defined")
