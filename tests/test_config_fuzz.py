"""Random damage to the example configuration never escapes as anything but ConfigError.

An admin's half-edited file, a bad merge or a truncated copy must give file:line messages, never
a traceback. Each example copies the shipped example (conf/ and ivr_flows/), applies a few random
line-level edits (delete, duplicate, swap, re-indent, truncate, splice in YAML-significant
tokens) and loads it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from esl_apps import resources
from esl_apps.config import ConfigError, load_config

TOKENS = [
    "",
    " ",
    "~",
    "null",
    "[",
    "]",
    "{",
    "}",
    ":",
    ": ",
    "- ",
    ",",
    "&a ",
    "*a",
    "<<: *a",
    "&b [*b]",
    "!!python/object:os.system ",
    "!custom ",
    "!!binary ",
    "!!set ",
    "'",
    '"',
    "#",
    "|",
    ">",
    "\t",
    "yes",
    "-1",
    "0",
    "007",
    "+44",
    "1e999",
    ".nan",
    "2026-13-45",
    "2026-12-25",
    "99999999999999999999",
    "é",
    "\x00",
    "\ufeff",
    "%YAML 1.1\n",
    "---\n",
    "...",
    "? ",
    "@",
    "`",
    "x" * 300,
    "ñ: ñ",
    "{a: 1, a: 2}",
    "[1, [2, [3, [4]]]]",
    "sales",
    "support",
    "billing",
    "main",
    "*21",
    "1001",
    "Europe/Nowhere",
    "password: hunter2",
    "type: menu",
    "type: goto",
    "children: {next: nowhere}",
]


def _files(root: Path) -> list[Path]:
    return sorted([*root.glob("conf/*.yaml"), *root.glob("flows/*.yaml")])


@st.composite
def damage(draw: st.DrawFn, text: str) -> str:
    lines = text.split("\n")
    for _ in range(draw(st.integers(1, 3))):
        if not lines:
            lines = [""]
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["splice", "value", "delete", "duplicate", "swap", "indent", "truncate"]))
        if op == "splice":
            column = draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:column] + draw(st.sampled_from(TOKENS)) + lines[i][column:]
        elif op == "value" and ": " in lines[i]:
            lines[i] = lines[i].split(": ", 1)[0] + ": " + draw(st.sampled_from(TOKENS))
        elif op == "delete":
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "indent":
            lines[i] = (
                draw(st.sampled_from(["  ", " ", "\t"])) + lines[i] if draw(st.booleans()) else lines[i][2:]
            )
        elif op == "truncate":
            lines = lines[: i + 1]
            lines[i] = lines[i][: draw(st.integers(0, len(lines[i])))]
    return "\n".join(lines)


@settings(
    max_examples=int(os.environ.get("CONFIG_FUZZ_EXAMPLES", "200")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(data=st.data())
def test_random_damage_only_ever_raises_config_error(data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        shutil.copytree(resources.example_conf_dir(), root / "conf")
        shutil.copytree(resources.example_flows_dir(), root / "flows")
        files = _files(root)
        for target in data.draw(st.lists(st.sampled_from(files), min_size=1, max_size=2, unique=True)):
            target.write_text(data.draw(damage(target.read_text(encoding="utf-8"))), encoding="utf-8")
        try:
            load_config(root / "conf", root / "flows")
        except ConfigError as exc:
            assert exc.errors, "a ConfigError always carries at least one error"
            names = {str(f) for f in files} | {str(root / "flows")}
            for issue in exc.issues:
                assert issue.file in names
                assert issue.line >= 1 and issue.column >= 1
                assert issue.key_path and issue.message
