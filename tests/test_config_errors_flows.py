"""Configuration errors in flows, several files at once, and prompt files (see test_config_errors.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.config_tree import Tree


@pytest.fixture
def tree(tmp_path: Path) -> Tree:
    return Tree(tmp_path)


# ------------------------------------------------------------------ flows


def test_flow_node_naming_missing_group_queue_box_and_flow(tree: Tree) -> None:
    tree.edit("main.yaml", "    group: sales\n", "    group: sails\n")
    tree.edit("main.yaml", "    queue: support\n", "    queue: suport\n")
    tree.edit("main.yaml", "    box: sales\n", "    box: sale\n")
    tree.edit("main.yaml", "    flow: support\n    node: intro\n", "    flow: support\n    node: outro\n")
    tree.assert_at("main.yaml", "nodes.sales.group", "group: sails", "ring group 'sails' is not defined")
    tree.assert_at("main.yaml", "nodes.support_queue.queue", "queue: suport", "queue 'suport'")
    tree.assert_at("main.yaml", "nodes.closed_box.box", "box: sale\n", "voicemail box 'sale'")
    tree.assert_at(
        "main.yaml", "nodes.other_flow.node", "node: outro", "node 'outro' is not defined in flow 'support'"
    )


def test_flow_edges_naming_missing_nodes(tree: Tree) -> None:
    tree.edit("main.yaml", '      "1": sales\n', '      "1": saless\n')
    tree.edit("main.yaml", "start: hours", "start: hour")
    tree.assert_at("main.yaml", "nodes.welcome.options.1", '"1": saless', "node 'saless' is not defined")
    tree.assert_at("main.yaml", "start", "start: hour", "names node 'hour'")


def test_goto_to_a_missing_flow(tree: Tree) -> None:
    tree.edit("main.yaml", "    flow: support\n    node: intro\n", "    flow: billing\n")
    tree.assert_at("main.yaml", "nodes.other_flow.flow", "flow: billing", "flow 'billing' is not defined")


def test_unreachable_node(tree: Tree) -> None:
    tree.edit("main.yaml", "  bye:\n", "  orphan:\n    type: hangup\n  bye:\n")
    tree.assert_at("main.yaml", "nodes.orphan", "  orphan:", "node 'orphan' is unreachable")


def test_node_entered_by_a_goto_is_reachable(tree: Tree) -> None:
    tree.edit("support.yaml", "start: intro", "start: ring")
    tree.load()  # intro is entered by main's goto, so it is not unreachable


def test_loop_with_no_exit(tree: Tree) -> None:
    tree.write(
        "support.yaml",
        "flow: support\nstart: intro\nnodes:\n"
        "  intro:\n    type: play\n    prompt: a.wav\n    children: {next: menu}\n"
        "  menu:\n    type: menu\n    prompt: b.wav\n    options: {'1': again}\n"
        "    children: {max_tries: intro}\n"
        "  again:\n    type: play\n    prompt: c.wav\n    children: {next: menu}\n",
    )
    tree.assert_at("support.yaml", "nodes.intro", "  intro:", "loop with no exit: intro -> menu -> intro")


def test_loop_with_an_exit_is_fine(tree: Tree) -> None:
    # welcome's max_tries goes to a ring group; the menu loops through callback but can leave.
    tree.load()


# ------------------------------------------------------------------ several at once


def test_all_errors_of_all_files_come_in_one_run(tree: Tree) -> None:
    tree.edit("pbx.yaml", "strategy: round_robin", "strategy: roundrobin")  # model error ...
    tree.edit(
        "pbx.yaml", "    members: [dave, erin, frank]", "    members: [dave, erin, franc]"
    )  # ... and a reference
    tree.edit(
        "pbx.yaml", "  - {id: bob, name: Bob Baker,", "  - {id: bob, nme: Bob Baker,"
    )  # agent cut out ...
    tree.edit("pbx.yaml", ', endpoints: ["user/1005@${domain}"]', "")  # ... a later agent's line still right
    tree.edit("dispositions.yaml", '{code: "51"', '{code: "50"')
    tree.edit("main.yaml", "    box: sales\n", "    box: sale\n")
    tree.write("support.yaml", "flow: support\nstart: intro\nnodes: {intro: {type: play}\n")
    keys = {(Path(i.file).name, i.key_path) for i in tree.issues()}
    assert {
        ("pbx.yaml", "ring_groups.sales.strategy"),
        ("pbx.yaml", "ring_groups.support.members[2]"),
        ("pbx.yaml", "agents[1].nme"),
        ("pbx.yaml", "agents[4]"),
        ("dispositions.yaml", "codes[14].code"),
        ("main.yaml", "nodes.closed_box.box"),
        ("support.yaml", "(root)"),
    } <= keys
    erin = tree.issue("pbx.yaml", "agents[4]")
    assert erin.line == tree.line_of("pbx.yaml", "{id: erin")
    # Bob failed validation but is still "defined": no false "agent 'bob' is not defined".
    assert not any("'bob' is not defined" in str(i) for i in tree.issues())


def test_missing_prompt_under_sounds_dir_is_a_warning(tree: Tree, tmp_path: Path) -> None:
    sounds = tmp_path / "sounds"
    (sounds / "ivr").mkdir(parents=True)
    (sounds / "ivr" / "welcome.wav").write_bytes(b"RIFF")
    tree.edit("pbx.yaml", "/usr/share/freeswitch/sounds/en/us/callie", str(sounds))
    config = tree.load()
    warnings = {(Path(w.file).name, w.key_path): w for w in config.warnings}
    assert ("main.yaml", "nodes.welcome.prompt") not in warnings  # it exists
    missing = warnings[("support.yaml", "nodes.intro.prompt")]
    assert missing.severity == "warning" and "ivr/support-intro.wav not found" in missing.message
    assert missing.line == tree.line_of("support.yaml", "    prompt: ivr/support-intro.wav")
    assert ("pbx.yaml", "recording.prompts.notice") in warnings


def test_a_prompt_in_a_sample_rate_folder_is_found_as_freeswitch_finds_it(tree: Tree, tmp_path: Path) -> None:
    # The stock sound packages keep ivr/8000/x.wav, ivr/16000/x.wav...; prompts name ivr/x.wav.
    sounds = tmp_path / "sounds"
    (sounds / "ivr" / "16000").mkdir(parents=True)
    (sounds / "ivr" / "16000" / "support-intro.wav").write_bytes(b"RIFF")
    tree.edit("pbx.yaml", "/usr/share/freeswitch/sounds/en/us/callie", str(sounds))
    warnings = {(Path(w.file).name, w.key_path) for w in tree.load().warnings}
    assert ("support.yaml", "nodes.intro.prompt") not in warnings
    assert ("main.yaml", "nodes.welcome.prompt") in warnings  # ivr/welcome.wav is in no folder


def test_an_unreadable_flow_is_reported_once(tree: Tree) -> None:
    tree.write("support.yaml", "flow: support\nstart: [intro\n")
    issues = tree.issues()
    assert [(Path(i.file).name, i.key_path) for i in issues] == [("support.yaml", "(root)")]
    assert issues[0].message.startswith("YAML syntax error")


def test_a_confirm_prompt_the_switch_lacks_is_a_warning(tree: Tree, tmp_path: Path) -> None:
    sounds = tmp_path / "sounds"
    sounds.mkdir()
    tree.edit("pbx.yaml", "/usr/share/freeswitch/sounds/en/us/callie", str(sounds))
    warnings = {w.key_path: w for w in tree.load().warnings if Path(w.file).name == "pbx.yaml"}
    missing = warnings["ring_groups.billing.confirm_prompt"]  # billing has answer_confirm: true
    assert "ivr/ivr-accept_reject_voicemail.wav not found" in missing.message
    assert "ring_groups.sales.confirm_prompt" not in warnings  # no answer_confirm: never played


def test_a_confirm_prompt_must_survive_the_dial_string(tree: Tree) -> None:
    line = "    answer_confirm: true\n"
    tree.edit("pbx.yaml", line, line + "    confirm_prompt: a|b\n")
    [issue] = [i for i in tree.issues() if i.key_path.endswith("confirm_prompt")]
    assert issue.key_path == "ring_groups.billing.confirm_prompt"
