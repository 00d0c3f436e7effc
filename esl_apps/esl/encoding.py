"""FreeSWITCH's URL encoding of event header values (switch_url_encode / switch_url_decode).

Event headers travel as `Name: value` lines, so FreeSWITCH percent-encodes every value to keep newlines and
colons out of the framing. It is not RFC 3986: `/ ( ) , . - _ ! * ' ~ $` stay as they are, hex is upper-case,
and `+` is a literal plus (never a space). switch_url_encode also leaves an existing upper-case `%XX` alone
(it does not double-encode), which makes the encoding lossy for values that already look encoded; we mirror
that by default so the emulator emits exactly what FreeSWITCH emits.
"""

from __future__ import annotations

import re
from binascii import a2b_qp
from urllib.parse import unquote

# SWITCH_URL_UNSAFE from switch_utils.h, plus every byte outside printable ASCII.
_UNSAFE_CHARS = "\r\n #%&+:;<=>?@[\\]^`{|}\""


# Printable unsafe characters, each replaced with one C-level str.replace when present (str.translate with
# multi-character replacements is ~20x slower); control characters and bytes >= 0x7F are rare and go
# through one regex. Non-ASCII text is first re-read as Latin-1 so that each UTF-8 byte is one character.
# `%` is handled first and separately because FreeSWITCH keeps an existing upper-case %XX.
_COMMON_UNSAFE = tuple((c, f"%{ord(c):02X}") for c in _UNSAFE_CHARS if c != "%")
_OTHER_UNSAFE = re.compile(r"[\x00-\x09\x0b\x0c\x0e-\x1f\x7f-\xff]")
_OTHER_UNSAFE_NOT_NUL = re.compile(r"[\x01-\x09\x0b\x0c\x0e-\x1f\x7f-\xff]")  # NUL joins values
_LONE_PERCENT = re.compile(r"%(?![0-9A-F]{2})")


def _hex(match: re.Match[str]) -> str:
    return f"%{ord(match.group()):02X}"


def _encode(value: str, other: re.Pattern[str], double_encode: bool) -> str:
    if not value.isascii():
        value = value.encode("utf-8", "surrogateescape").decode("latin-1")
    if "%" in value:
        value = value.replace("%", "%25") if double_encode else _LONE_PERCENT.sub("%25", value)
    for char, escape in _COMMON_UNSAFE:
        if char in value:
            value = value.replace(char, escape)
    if other.search(value) is not None:
        value = other.sub(_hex, value)
    return value


def url_encode(value: str, double_encode: bool = False) -> str:
    """Encode a header value exactly as FreeSWITCH puts it on the wire.

    With `double_encode=True` every `%` is encoded, which makes `url_decode(url_encode(v)) == v` hold for
    every string (FreeSWITCH itself never does this for event headers).
    """
    return _encode(value, _OTHER_UNSAFE, double_encode)


def encode_many(values: list[str]) -> list[str]:
    """`url_encode` of each value in a few C-level passes over the values joined by NUL (a serialised
    channel event has ~150-250 values; FreeSWITCH's C strings never contain NUL)."""
    joined = "\x00".join(values)
    if joined.count("\x00") != len(values) - 1:
        return [url_encode(v) for v in values]
    return _encode(joined, _OTHER_UNSAFE_NOT_NUL, False).split("\x00")


def _slow_decode(value: str) -> str:
    return unquote(value, errors="replace")


def url_decode(value: str) -> str:
    """Decode `%XX` sequences (either hex case) as UTF-8; `+` stays `+`; malformed `%` stays as it is.

    Invalid UTF-8 becomes U+FFFD rather than an error: a caller name with a stray Latin-1 byte must not end
    the call.
    """
    if "%" not in value:
        return value
    return decode_many([value])[0]


def decode_many(values: list[str]) -> list[str]:
    """Decode many values with a handful of C-level passes; the result equals `url_decode` on each value.

    Decoding value by value costs Python calls per header and per escape, which dominated event parsing.
    The values are joined with NUL (FreeSWITCH's C strings never contain one), `%` becomes `=`, and
    binascii.a2b_qp (quoted-printable: the same `=XX` escapes) decodes everything at once. Input where that
    could differ from URL decoding (a literal `=`, CR, NUL or %00, a malformed escape, invalid UTF-8) takes
    the per-value path instead; FreeSWITCH never produces such values.
    """
    joined = "\x00".join(values)
    if "%" not in joined:
        return list(values)
    clean = "=" not in joined and "\r" not in joined and "%00" not in joined
    if clean and joined.count("\x00") == len(values) - 1:
        try:
            raw = joined.encode("utf-8")
            out = a2b_qp(raw.replace(b"%", b"="))
            if len(out) == len(raw) - 2 * raw.count(b"%"):  # every escape was a valid one
                return out.decode("utf-8").split("\x00")
        except UnicodeError:
            pass
    return [_slow_decode(v) for v in values]
