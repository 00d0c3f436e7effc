"""1,000 mutated configurations into ``esl-apps validate`` (in-process ``main([...])``): each one
gets a clean answer, exit 0 (still valid) or 2 (file:line:column errors), never a traceback and
never the "internal error" catch-all that would hide one.

Two kinds of damage, because they reach different code: text edits (what a half-finished edit, a
bad merge or a truncated copy leaves: mostly YAML syntax errors) and tree edits (valid YAML with a
key removed, renamed or given a value of another type: these reach the models and the
cross-checks). Files can also be emptied, replaced by a scalar or a list, made invalid UTF-8, or be
missing. Seeded: a failure prints the case number and the files as they were.
"""

from __future__ import annotations

import contextlib
import io
import random
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from esl_apps import resources
from esl_apps.cli import main as cli_main
from tests.test_faults_fuzz_protocol import watchdog

CASES = 1000
SEED = 20261125
ISSUE = re.compile(r"^(.+?):(\d+):(\d+): \S.*$")

TOKENS = [
    "", " ", "~", "null", "[", "]", "{", "}", ":", ": ", "- ", ",", "&a ", "*a", "<<: *a",
    "!!python/object:os.system ", "!custom ", "!!binary ", "'", '"', "#", "|", ">", "\t", "yes", "no", "-1",
    "0", "1e999", ".nan", "2026-02-30", "99999999999999999999", "é", "\x00", "\ufeff", "---\n", "...", "? ",
    "@", "`", "x" * 500, "%YAML 1.1\n",
]
VALUES: list[Any] = [
    None, "", " ", 0, -1, 1.5, 10**20, True, [], {}, ["x"], {"a": 1}, "x" * 300, "ümlaut", "*21", "+44",
    "user/1001@${domain}", "2026-13-40", "25:99-26:00", "Europe/Nowhere", "../../etc/passwd", "main", "sales",
]


def _text_damage(text: str, rng: random.Random) -> str:
    lines = text.split("\n")
    for _ in range(rng.randint(1, 3)):
        if not lines:
            lines = [""]
        i = rng.randrange(len(lines))
        op = rng.randrange(7)
        if op == 0:
            column = rng.randint(0, len(lines[i]))
            lines[i] = lines[i][:column] + rng.choice(TOKENS) + lines[i][column:]
        elif op == 1 and ": " in lines[i]:
            lines[i] = lines[i].split(": ", 1)[0] + ": " + rng.choice(TOKENS)
        elif op == 2:
            del lines[i]
        elif op == 3:
            lines.insert(i, lines[i])
        elif op == 4:
            j = rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == 5:
            lines[i] = rng.choice(["  ", " ", "\t", ""]) + lines[i][rng.choice([0, 1, 2]) :]
        else:
            lines = lines[: i + 1]
            lines[i] = lines[i][: rng.randint(0, len(lines[i]))]
    return "\n".join(lines)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out += _paths(value, (*prefix, index))
    return out


def _tree_damage(data: Any, rng: random.Random) -> Any:
    for _ in range(rng.randint(1, 3)):
        paths = [p for p in _paths(data) if p]
        if not paths:
            return rng.choice(VALUES)
        path = rng.choice(paths)
        parent = data
        for step in path[:-1]:
            parent = parent[step]
        last = path[-1]
        op = rng.randrange(5)
        if op == 0:  # delete the key / item
            del parent[last]
        elif op == 1:  # a value of another type
            parent[last] = rng.choice(VALUES)
        elif op == 2 and isinstance(parent, dict):  # a typo in the key
            parent[f"{last}s" if rng.random() < 0.5 else str(last)[:-1] or "x"] = parent.pop(last)
        elif op == 3:  # the same value somewhere else (a reference to the wrong kind of thing)
            other = rng.choice(paths)
            source = data
            with contextlib.suppress(KeyError, IndexError, TypeError):
                for step in other:
                    source = source[step]
                copy = yaml.safe_load(yaml.safe_dump(source)) if isinstance(source, dict | list) else source
                parent[last] = copy
        else:  # wrap in a list
            parent[last] = [parent[last]]
    return data


def _mutate(files: dict[str, str], rng: random.Random) -> dict[str, bytes | None]:
    """-> the new content of 1 or 2 files (None: the file is removed)."""
    out: dict[str, bytes | None] = {}
    for name in rng.sample(sorted(files), rng.choice([1, 1, 1, 2])):
        text = files[name]
        kind = rng.randrange(10)
        if kind < 4:
            out[name] = _text_damage(text, rng).encode("utf-8", "surrogatepass")
        elif kind < 8:
            data = _tree_damage(yaml.safe_load(text), rng)
            out[name] = yaml.safe_dump(data, allow_unicode=True, sort_keys=False).encode()
        elif kind == 8:
            out[name] = rng.choice(
                [b"", b"42\n", b"- a\n- b\n", b"\xff\xfe\x00bad", b"key: \xc3\x28\n", b"\t\t:\n"]
            )
        else:
            out[name] = None
    return out


@pytest.mark.slow
def test_1000_mutated_configurations_get_a_clean_answer(tmp_path: Path) -> None:
    root = tmp_path / "cfg"
    (root / "conf").mkdir(parents=True)
    for name in ("pbx.yaml", "dispositions.yaml"):  # conf/ also holds the ops snippets: not needed
        shutil.copy(resources.example_conf_dir() / name, root / "conf" / name)
    shutil.copytree(resources.example_flows_dir(), root / "flows")
    originals = {
        str(p.relative_to(root)): p.read_text(encoding="utf-8") for p in sorted(root.glob("*/*.yaml"))
    }
    assert len(originals) == 4
    rng = random.Random(SEED)
    argv = ["validate", "--conf", str(root / "conf"), "--flows", str(root / "flows")]
    exits = {0: 0, 2: 0}
    with watchdog(300):
        for case in range(CASES):
            changes = _mutate(originals, rng)
            for name, content in changes.items():
                path = root / name
                if content is None:
                    path.unlink()
                else:
                    path.write_bytes(content)
            out, err = io.StringIO(), io.StringIO()
            try:
                with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                    code = cli_main(argv)
            except BaseException as exc:
                pytest.fail(f"case {case}: {type(exc).__name__}: {exc}; changed {sorted(changes)}: {changes}")
            text = out.getvalue()
            context = f"case {case}, changed {sorted(changes)}:\n{text}{err.getvalue()}"
            assert code in (0, 2), context
            assert "Traceback" not in text + err.getvalue(), context
            assert "internal error" not in text, context
            lines = text.rstrip("\n").split("\n")
            if code == 0:
                assert lines[-1].startswith("OK: "), context
            else:
                assert lines[-1].startswith("FAILED: ") and len(lines) >= 2, context
                for line in lines[:-1]:
                    match = ISSUE.match(line)
                    assert match, context
                    assert int(match.group(2)) >= 1 and int(match.group(3)) >= 1, context
            exits[code] += 1
            for name in changes:
                (root / name).write_text(originals[name], encoding="utf-8")
    assert exits[2] > CASES // 2 and exits[0] > 0  # most damage is caught, some is harmless
