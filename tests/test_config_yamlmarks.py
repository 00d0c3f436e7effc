"""The YAML layer: values as an admin means them, marks for every key, problems as issues."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from esl_apps.config import ConfigError
from esl_apps.config.yamlmarks import load_yaml, parse_yaml


def parse(text: str):
    return parse_yaml(text, "f.yaml")


def test_scalars_keep_what_the_admin_wrote() -> None:
    data, _, issues = parse(
        "ext: 0123\nphone: +442071234567\nplain: 1001\nnorway: no\nflag: true\ntime: 1:30\n"
        "rate: 1.5\nnothing: ~\nday: 2026-12-25\nquoted: '42'\n"
    )
    assert issues == []
    assert data == {
        "ext": "0123",  # no octal surprise, no lost digit
        "phone": "+442071234567",
        "plain": 1001,
        "norway": "no",  # not False
        "flag": True,
        "time": "1:30",  # not the sexagesimal 90
        "rate": 1.5,
        "nothing": None,
        "day": dt.date(2026, 12, 25),
        "quoted": "42",
    }


def test_mapping_keys_are_always_text() -> None:
    data, _, _ = parse("1: sales\non: x\n~: y\n2026-01-01: z\n")
    assert list(data) == ["1", "on", "~", "2026-01-01"]


def test_marks_for_keys_and_items_are_one_based() -> None:
    _, marks, _ = parse("a:\n  b: [x, {c: 1}]\n  d:\n    - e\n")
    assert marks[()] == (1, 1)
    assert marks[("a",)] == (1, 1)
    assert marks[("a", "b")] == (2, 3)
    assert marks[("a", "b", 0)] == (2, 7)
    assert marks[("a", "b", 1)] == (2, 10)
    assert marks[("a", "b", 1, "c")] == (2, 11)
    assert marks[("a", "d", 0)] == (4, 7)


def test_duplicate_keys_at_any_depth_are_reported_at_the_second() -> None:
    data, _, issues = parse("a: 1\nb: {c: 1, c: 2}\na: 3\n")
    assert [(i.line, i.column, i.key_path) for i in issues] == [(2, 11, "b.c"), (3, 1, "a")]
    assert "first defined on line 1" in issues[1].message
    assert data == {"a": 1, "b": {"c": 1}}  # the first value is kept


def test_anchors_and_merge_keys() -> None:
    data, marks, issues = parse("base: &b {timeout: 20, delay: 0}\ngroup:\n  <<: *b\n  delay: 5\n")
    assert issues == []
    assert data["group"] == {"delay": 5, "timeout": 20}
    assert marks[("group", "timeout")] == (1, 11)  # where the merged value was written


def test_syntax_error_becomes_an_issue_with_its_line() -> None:
    data, _, issues = parse("a: 1\nb: [1, 2\nc: 3\n")
    assert data is None
    assert len(issues) == 1 and issues[0].message.startswith("YAML syntax error")
    assert issues[0].line == 3


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: !!python/object:os.system x\n", "unsupported YAML tag"),
        ("a: !custom x\n", "unsupported YAML tag"),
        ("? [k]\n: v\n", "mapping key must be plain text"),
        ("a: &x [*x]\n", "recursive YAML alias"),
        ("a: 2026-02-30\n", "looks like a date but is not one"),
        ("a: 1\n---\nb: 2\n", "only one YAML document"),
        ("a: *nowhere\n", "unknown alias *nowhere"),
        ("a: \x07\n", "YAML syntax error"),
    ],
)
def test_unsafe_or_odd_yaml_is_an_issue_not_an_exception(text: str, message: str) -> None:
    _, _, issues = parse(text)
    assert any(message in i.message for i in issues), issues


def test_alias_bomb_is_refused() -> None:
    levels = ["l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 10)}]" for n in range(1, 9)]
    _, _, issues = parse("\n".join(levels) + "\n")
    assert any("too many values" in i.message for i in issues)


def test_load_yaml_raises_config_error_with_the_path(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("a: [1, 2]\n")
    data, marks = load_yaml(good)
    assert data == {"a": [1, 2]} and marks[("a", 1)] == (1, 8)
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"a: 1\nb: \xff\n")
    with pytest.raises(ConfigError) as info:
        load_yaml(bad)
    issue = info.value.issues[0]
    assert (issue.file, issue.line, issue.column) == (str(bad), 2, 4)
    assert "UTF-8" in issue.message
