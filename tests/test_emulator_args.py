"""The emulator splits application arguments exactly as FreeSWITCH's switch_separate_string()."""

from __future__ import annotations

import pytest

from esl_apps.sim.digits import separate


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        # a regex keeps its backslash classes (\d is not one of FreeSWITCH's escapes)
        (
            r"1 4 3 5000 # f.wav silence v \d+ 2000",
            ["1", "4", "3", "5000", "#", "f.wav", "silence", "v", r"\d+", "2000"],
        ),
        # single quotes group blanks and are dropped
        ("1 1 1 1000 # 'say:en number 12' x v", ["1", "1", "1", "1000", "#", "say:en number 12", "x", "v"]),
        # \s \t \n \r become characters before the application sees them
        (r"a ^\s\t$", ["a", "^ \t$"]),
        # an escaped quote is a quote; an escaped blank does not split but keeps its backslash
        (r"'x\'y' a\ b", ["x'y", "a\\ b"]),
        # double quotes are ordinary characters to this splitter
        ('"a b"', ['"a', 'b"']),
        ("  a   b  ", ["a", "b"]),
    ],
)
def test_separate_matches_freeswitch(data: str, expected: list[str]) -> None:
    assert separate(data) == expected
