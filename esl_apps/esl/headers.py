"""Event header mapping that splits and URL-decodes only what is read.

A channel event carries ~150-250 headers (every channel variable), but a call flow reads a handful of them
(Event-Name, Unique-ID, Application-UUID, a result variable). So an event keeps its header block as one
string: a single lookup is a C-level `rfind` for the line `\\nName: ` (cheaper than splitting 200 lines
and hashing 200 names), encoded values are decoded on first read and cached, and the block is split into a
dict only when something needs all headers (iteration, len, items(), dict(headers), pairs()), then decoded
in one C-level pass (encoding.decode_many).

Semantics are those of the split: a line is `Name: value`, a repeated name keeps its last value. Lines
that are not in that canonical form (no space after the colon, leading blanks) never occur in FreeSWITCH
output; a lookup that meets one falls back to the split, which handles them like mod_event_socket does.
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterator, KeysView, Mapping, ValuesView
from typing import Any

from .encoding import decode_many, url_decode


def split_header_lines(text: str) -> list[str]:
    """`Name: value` lines -> flat [name, value, name, value, ...] in wire order, duplicates kept.

    FreeSWITCH writes every line as `Name: value` with ': ' encoded inside values, so C-level replace and
    split do all lines at once. Line ends are marked with NUL first so a block where some line has no ': '
    and another has two cannot be silently mis-paired; such blocks (never FreeSWITCH output) take the
    line-by-line path: a line without a colon is ignored, blanks after the colon are stripped.
    """
    if not text:
        return []
    if "\x00" not in text:
        lines = text.count("\n") + 1
        parts = text.replace("\n", ": \x00").split(": ")
        if len(parts) == 2 * lines:
            names = "".join(parts[0::2])
            values = parts[1::2]
            if names.count("\x00") == lines - 1 and "\x00" not in "".join(values):
                split_names = names.split("\x00")
                if "" not in split_names:  # a nameless line is dropped, as on the slow path
                    flat = parts
                    flat[0::2] = split_names
                    return flat
    flat = []
    for line in text.split("\n"):
        name, sep, value = line.partition(":")
        if sep and name:
            flat += (name, value.lstrip(" "))
    return flat


class LazyHeaders(Mapping[str, str]):
    __slots__ = ("_cache", "_flat", "_full", "_raw", "_text")

    def __init__(self, text: str = "", raw: dict[str, str] | None = None) -> None:
        self._text = text  # the header block, lines joined by "\n", values still URL-encoded
        self._raw = raw  # name -> encoded value, built on demand
        self._flat: list[str] | None = None
        self._cache: dict[str, str] | None = None
        self._full: dict[str, str] | None = None

    @classmethod
    def from_flat(cls, flat: list[str]) -> LazyHeaders:
        it = iter(flat)
        headers = cls("", dict(zip(it, it, strict=True)))
        headers._flat = flat
        return headers

    # -- raw (still encoded) access --------------------------------------------------------------------

    def _pieces(self) -> list[str]:
        flat = self._flat
        if flat is None:
            flat = self._flat = split_header_lines(self._text)
        return flat

    def _split(self) -> dict[str, str]:
        raw = self._raw
        if raw is None:
            it = iter(self._pieces())
            raw = self._raw = dict(zip(it, it, strict=True))
        return raw

    def _lookup(self, name: str) -> str | None:
        raw = self._raw
        if raw is not None:
            return raw.get(name)
        if not name or "\n" in name:
            return None
        text = self._text
        key = "\n" + name + ":"
        at = text.rfind(key)
        if at >= 0:
            start = at + len(key)
        elif text.startswith(key[1:]):
            start = len(key) - 1
        else:
            return None
        if text[start : start + 1] != " " or text[start + 1 : start + 2] == " ":
            return self._split().get(name)  # non-canonical line: let the split decide
        end = text.find("\n", start)
        return text[start + 1 :] if end < 0 else text[start + 1 : end]

    # -- Mapping ---------------------------------------------------------------------------------------

    def _decode_one(self, name: str, value: str) -> str:
        if self._full is not None:
            return self._full[name]
        cache = self._cache
        if cache is None:
            cache = self._cache = {}
        decoded = cache.get(name)
        if decoded is None:
            decoded = cache[name] = url_decode(value)
        return decoded

    def __getitem__(self, name: str) -> str:
        value = self._lookup(name)
        if value is None:
            raise KeyError(name)
        if "%" in value:
            return self._decode_one(name, value)
        return value

    def get(self, name: str, default: Any = None) -> Any:
        value = self._lookup(name)
        if value is None:
            return default
        if "%" in value:
            return self._decode_one(name, value)
        return value

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._lookup(name) is not None

    def _names(self) -> dict[str, str]:
        return self._full if self._full is not None else self._split()

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())

    def keys(self) -> KeysView[str]:
        return self._names().keys()

    def _decoded_values(self) -> list[str]:
        if self._raw is not None and self._flat is None:  # built from a dict, not from wire lines
            return decode_many(list(self._raw.values()))
        return decode_many(self._pieces()[1::2])

    def _decoded(self) -> dict[str, str]:
        full = self._full
        if full is None:
            names = self._pieces()[0::2] if self._flat is not None or self._raw is None else list(self._raw)
            full = self._full = dict(zip(names, self._decoded_values(), strict=True))
        return full

    def items(self) -> ItemsView[str, str]:
        return self._decoded().items()

    def values(self) -> ValuesView[str]:
        return self._decoded().values()

    def to_dict(self) -> dict[str, str]:
        """A plain decoded copy."""
        return dict(self._decoded())

    def pairs(self) -> list[tuple[str, str]]:
        """Decoded (name, value) pairs in wire order, keeping repeated names (CHANNEL_HANGUP_COMPLETE
        carries Hangup-Cause twice): what a byte-exact re-serialisation needs."""
        if self._raw is not None and self._flat is None:
            return list(self._decoded().items())
        flat = self._pieces()
        return list(zip(flat[0::2], decode_many(flat[1::2]), strict=True))

    def raw(self) -> Mapping[str, str]:
        """The values exactly as they were on the wire (URL-encoded)."""
        return self._split()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, LazyHeaders):
            return self._decoded() == other._decoded()
        if isinstance(other, Mapping):
            return self._decoded() == dict(other.items())
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"LazyHeaders({self._decoded()!r})"
