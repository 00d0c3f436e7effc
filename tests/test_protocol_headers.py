"""LazyHeaders: single lookups (a scan of the header block) must always agree with the full split."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from esl_apps.esl import protocol as P
from esl_apps.esl.headers import LazyHeaders, split_header_lines
from esl_apps.esl.tracefile import read_trace

TRACE_DIR = Path(__file__).parent / "fixtures" / "esl-traces"


def test_lookups_agree_with_the_split_on_every_trace_event():
    checked = 0
    for path in sorted(TRACE_DIR.glob("*.txt")):
        for section in read_trace(path):
            for entry in section.messages("received"):
                if b"Content-Type: text/event-plain" not in entry.data[:64]:
                    continue
                (event,) = P.EslParser().feed(entry.data)
                text = event.headers._text  # the header block as received
                full = dict(event.headers)  # forces the split + bulk decode
                for name, value in full.items():
                    fresh = LazyHeaders(text)  # lookups before any split
                    assert fresh.get(name) == value and fresh[name] == value and name in fresh
                assert event.get("No-Such-Header") is None
                checked += 1
    assert checked == 753


def test_non_canonical_lines_follow_mod_event_socket_rules():
    text = "Event-Name: X\nno colon here\nTight:value\nSpaced:   v\nDup: 1\nA: b: c\nDup: 2"
    expected = {"Event-Name": "X", "Tight": "value", "Spaced": "v", "Dup": "2", "A": "b: c"}
    split = LazyHeaders(text)
    assert dict(split) == expected
    for name, value in expected.items():
        assert LazyHeaders(text).get(name) == value
    assert LazyHeaders(text).get("no colon here") is None
    assert split.pairs()[-1] == ("Dup", "2") and len(split.pairs()) == 6


def test_misaligned_block_is_not_mis_paired():
    # One line without ': ' plus one with two: a naive split on ': ' would pair "c" with "d".
    text = "a: b: c\nd"
    assert split_header_lines(text) == ["a", "b: c"]
    assert LazyHeaders(text).get("a") == "b: c" and LazyHeaders(text).get("c") is None


names = st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,12}", fullmatch=True)
raw_values = st.text(st.characters(blacklist_characters="\n", blacklist_categories=("Cs",)), max_size=20)
lines = st.one_of(
    st.tuples(names, raw_values).map(lambda nv: f"{nv[0]}: {nv[1]}"),
    st.tuples(names, raw_values).map(lambda nv: f"{nv[0]}:{nv[1]}"),
    raw_values,
)


@settings(max_examples=200, deadline=None)
@given(st.lists(lines, min_size=1, max_size=10), names)
def test_fuzz_lookup_equals_split(block_lines, probe):
    text = "\n".join(block_lines)
    reference = dict(LazyHeaders(text))
    for name in [*reference, probe]:
        assert LazyHeaders(text).get(name) == reference.get(name)
        assert (name in LazyHeaders(text)) == (name in reference)
