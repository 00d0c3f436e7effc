"""A regex FreeSWITCH would silently change (\\s, \\t, \\n, \\r) is refused, in YAML and at run time."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from esl_apps.config import ConfigError, load_config
from esl_apps.esl.collect import build_collect_args
from esl_apps.resources import example_conf_dir, example_flows_dir


def test_validate_names_the_regex_that_freeswitch_would_mangle(tmp_path: Path) -> None:
    flows = tmp_path / "flows"
    shutil.copytree(example_flows_dir(), flows)
    main = flows / "main.yaml"
    text = main.read_text()
    original = 'regex: "^(0[1-9]|1[0-2])[0-9][0-9]$"'
    assert original in text
    main.write_text(text.replace(original, 'regex: "^\\\\s?[0-9]{4}$"'))
    line = next(i for i, row in enumerate(main.read_text().splitlines(), 1) if "\\s?" in row)
    with pytest.raises(ConfigError) as err:
        load_config(example_conf_dir(), flows)
    messages = [str(issue) for issue in err.value.issues]
    assert any(f"main.yaml:{line}:" in m and "nodes.card_expiry.regex" in m and "\\s" in m for m in messages)


def test_collect_refuses_such_a_regex_at_run_time() -> None:
    with pytest.raises(ValueError, match="play_and_get_digits"):
        build_collect_args(
            "p.wav",
            min_digits=1,
            max_digits=4,
            tries=1,
            timeout_ms=1000,
            terminators="#",
            regex=r"^\s\d$",
            invalid_prompt=None,
            digit_timeout_ms=None,
            variable="v",
        )
    args = build_collect_args(
        "p.wav",
        min_digits=1,
        max_digits=4,
        tries=1,
        timeout_ms=1000,
        terminators="#",
        regex=r"^\d+$",
        invalid_prompt=None,
        digit_timeout_ms=None,
        variable="v",
    )
    assert args.endswith(r"v ^\d+$")
