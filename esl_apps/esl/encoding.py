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

# SWITCH_URL_UNSAFE from switch_utils.h, plus everything outside printable ASCII.
_UNSAFE_CHARS = "\r\n #%&+:;<=>?@[\\]^`{|}\""
_SAFE_RUN = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in _UNSAFE_CHARS)
_SAFE_CLASS = re.escape(_SAFE_RUN)

# A run of characters that need encoding; a `%` that starts an upper-case %XX is left alone (FreeSWITCH's
# double_encode=FALSE behaviour).
_NEEDS_ENCODING = re.compile(r"(?:%(?![0-9A-F]{2})|[^%" + _SAFE_CLASS + r"])+")
_NEEDS_ENCODING_DOUBLE = re.compile(r"[^" + _SAFE_CLASS + r"]+")

_HEX_TABLE = tuple(f"%{b:02X}" for b in range(256))


def _encode_run(match: re.Match[str]) -> str:
    table = _HEX_TABLE
    return "".join([table[b] for b in match.group().encode("utf-8", "surrogateescape")])


def url_encode(value: str, double_encode: bool = False) -> str:
    """Encode a header value exactly as FreeSWITCH puts it on the wire.

    With `double_encode=True` every `%` is encoded, which makes `url_decode(url_encode(v)) == v` hold for
    every string (FreeSWITCH itself never does this for event headers).
    """
    pattern = _NEEDS_ENCODING_DOUBLE if double_encode else _NEEDS_ENCODING
    if pattern.search(value) is None:
        return value
    return pattern.sub(_encode_run, value)


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
