"""FreeSWITCH URL encoding (switch_url_encode / switch_url_decode) and the bulk decoder."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from esl_apps.esl.encoding import decode_many, encode_many, url_decode, url_encode

# Surrogates cannot be UTF-8 encoded; FreeSWITCH never produces them.
text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=80)


@pytest.mark.parametrize(
    ("raw", "wire"),
    [
        ("tone_stream://%(1000,0,440);loops=20", "tone_stream%3A//%25(1000,0,440)%3Bloops%3D20"),  # README
        ("#", "%23"),
        ("+OK\n", "%2BOK%0A"),
        ("Mon, 23 Nov 2026 08:23:34 GMT", "Mon,%2023%20Nov%202026%2008%3A23%3A34%20GMT"),
        ("sofia/external/agent1@127.0.0.1:5091", "sofia/external/agent1%40127.0.0.1%3A5091"),
        ("ARRAY::a;NONE|:b;NONE", "ARRAY%3A%3Aa%3BNONE%7C%3Ab%3BNONE"),
        (
            ' \r\n#%&+:;<=>?@[\\]^`{|}"',
            "%20%0D%0A%23%25%26%2B%3A%3B%3C%3D%3E%3F%40%5B%5C%5D%5E%60%7B%7C%7D%22",
        ),
        ("/(),.-_!*'~$azAZ09", "/(),.-_!*'~$azAZ09"),
        ("é\x7f\x01", "%C3%A9%7F%01"),
        ("", ""),
    ],
)
def test_url_encode_matches_freeswitch(raw, wire):
    assert url_encode(raw) == wire
    assert url_decode(wire) == raw


def test_existing_uppercase_escape_is_not_double_encoded_like_freeswitch():
    assert url_encode("100%41") == "100%41"  # switch_url_encode(double_encode=FALSE)
    assert url_encode("50%") == "50%25" and url_encode("%4g") == "%254g" and url_encode("%ab") == "%25ab"
    assert url_encode("100%41", double_encode=True) == "100%2541"


def test_url_decode_keeps_plus_and_malformed_escapes():
    assert url_decode("a+b") == "a+b"
    assert url_decode("100%") == "100%" and url_decode("%zz") == "%zz"
    assert url_decode("%c3%a9") == "é"
    assert url_decode("%FF") == "\ufffd"


@settings(max_examples=400, deadline=None)
@given(text)
def test_double_encoded_round_trip_is_lossless(value):
    wire = url_encode(value, double_encode=True)
    assert url_decode(wire) == value
    assert "\n" not in wire and ": " not in wire and wire.isascii()


@settings(max_examples=400, deadline=None)
@given(text)
def test_freeswitch_encoding_never_breaks_framing(value):
    wire = url_encode(value)
    assert "\n" not in wire and "\r" not in wire and " " not in wire and wire.isascii()


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(text.map(url_encode), st.text(max_size=30)), max_size=12))
def test_decode_many_equals_per_value_decode(values):
    assert decode_many(values) == [url_decode(v) for v in values]


def test_decode_many_falls_back_on_tricky_input():
    values = ["a%00b", "c\\x41", "%E9", "%4", "plain", "x\x00y", "%C3%A9"]
    assert decode_many(values) == [url_decode(v) for v in values]


def reference_switch_url_encode(value: str) -> str:
    """Byte-by-byte transcription of switch_url_encode_opt(double_encode=FALSE), as an oracle."""
    data = value.encode("utf-8")
    hexdigits = b"0123456789ABCDEF"
    out = []
    for i, byte in enumerate(data):
        keep_escape = (
            byte == 0x25 and len(data) - 1 - i > 1 and data[i + 1] in hexdigits and data[i + 2] in hexdigits
        )
        if not keep_escape and (byte < 0x20 or byte > 0x7E or chr(byte) in ' \r\n#%&+:;<=>?@[\\]^`{|}"'):
            out.append(f"%{byte:02X}")
        else:
            out.append(chr(byte))
    return "".join(out)


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.one_of(text, st.sampled_from(["%41", "%4", "%", "a%2Fb", "%zz", "\r\n", "\x00", "é%C3"])),
        max_size=10,
    ).map(lambda parts: "".join(parts))
)
def test_url_encode_matches_a_byte_by_byte_reference(value):
    assert url_encode(value) == reference_switch_url_encode(value)


@settings(max_examples=300, deadline=None)
@given(st.lists(text, max_size=15))
def test_encode_many_equals_per_value_encode(values):
    assert encode_many(values) == [url_encode(v) for v in values]
