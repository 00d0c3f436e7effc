"""FreeSWITCH's URL encoding of event header values (switch_url_encode / switch_url_decode).

Event headers travel as `Name: value` lines, so FreeSWITCH percent-encodes every value to keep newlines and
colons out of the framing. It is not RFC 3986: `/ ( ) , . - _ ! * ' ~ $` stay as they are, hex is upper-case,
and `+` is a literal plus (never a space). switch_url_encode also leaves an existing upper-case `%XX` alone
(it does not double-encode), which makes the encoding lossy for values that already look encoded; we mirror
that by default so the emulator emits exactly what FreeSWITCH emits.
"""

from __future__ import annotations

import re
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


def url_decode(value: str) -> str:
    """Decode `%XX` sequences (either hex case) as UTF-8; `+` stays `+`; malformed `%` stays as it is.

    Invalid UTF-8 becomes U+FFFD rather than an error: a caller name with a stray Latin-1 byte must not end
    the call.
    """
    if "%" not in value:
        return value
    return unquote(value, errors="replace")


def decode_many(values: list[str]) -> list[str]:
    """Decode many values in one pass of C-level string operations.

    Decoding value by value costs a Python call per header, which dominated event parsing; joining the values
    with NUL (which FreeSWITCH's C strings can never contain) lets one `unicode_escape` pass do them all.
    Anything unusual (a literal NUL or %00, a backslash, a malformed `%`, non-ASCII, invalid UTF-8) falls back
    to the careful per-value path so the result is always identical to `url_decode` on each value.
    """
    if not values:
        return []
    joined = "\x00".join(values)
    if "%00" not in joined and "\\" not in joined:
        try:
            decoded = (
                joined.replace("%", "\\x").encode("ascii").decode("unicode_escape").encode("latin-1")
                .decode("utf-8")
            )
        except (UnicodeError, ValueError):
            pass
        else:
            parts = decoded.split("\x00")
            if len(parts) == len(values):
                return parts
    return [url_decode(v) for v in values]
