"""Event header mapping that URL-decodes values when they are first read.

A channel event carries ~150-250 headers (every channel variable), but a call flow reads a handful of them
(Event-Name, Unique-ID, Application-UUID, a result variable). Splitting the lines is unavoidable; decoding
every value is not, so values are kept as received and decoded on first access. Values without `%` are
returned as they are; the first read of an encoded value decodes all encoded values at once (one C-level
pass, see encoding.decode_many) and caches the result.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, overload

from .encoding import decode_many


class LazyHeaders(Mapping[str, str]):
    __slots__ = ("_decoded", "_flat", "_raw")

    def __init__(self, raw: dict[str, str], flat: list[str] | None = None) -> None:
        self._raw = raw
        self._flat = flat  # [name, value, ...] in wire order, repeated names kept
        self._decoded: dict[str, str] | None = None

    def _full(self) -> dict[str, str]:
        decoded = self._decoded
        if decoded is None:
            raw = self._raw
            keys = [k for k, v in raw.items() if "%" in v]
            decoded = dict(raw)
            if keys:
                decoded.update(zip(keys, decode_many([raw[k] for k in keys]), strict=True))
            self._decoded = decoded
        return decoded

    def __getitem__(self, name: str) -> str:
        value = self._raw[name]
        if "%" in value:
            return self._full()[name]
        return value

    @overload
    def get(self, name: str, /) -> str | None: ...
    @overload
    def get(self, name: str, /, default: str) -> str: ...
    @overload
    def get(self, name: str, /, default: Any) -> Any: ...

    def get(self, name: str, default: Any = None) -> Any:
        value = self._raw.get(name)
        if value is None:
            return default
        if "%" in value:
            return self._full()[name]
        return value

    def __contains__(self, name: object) -> bool:
        return name in self._raw

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)

    def items(self):  # type: ignore[override]
        return self._full().items()

    def values(self):  # type: ignore[override]
        return self._full().values()

    def to_dict(self) -> dict[str, str]:
        """A plain decoded copy (what `dict(headers)` also gives, faster)."""
        return dict(self._full())

    def pairs(self) -> list[tuple[str, str]]:
        """Decoded (name, value) pairs in wire order, keeping repeated names (CHANNEL_HANGUP_COMPLETE
        carries Hangup-Cause twice); what a byte-exact re-serialisation needs."""
        flat = self._flat
        if flat is None:
            return list(self._full().items())
        names, values = flat[0::2], flat[1::2]
        idx = [i for i, v in enumerate(values) if "%" in v]
        if idx:
            for i, v in zip(idx, decode_many([values[i] for i in idx]), strict=True):
                values[i] = v
        return list(zip(names, values, strict=True))

    def raw(self) -> Mapping[str, str]:
        """The values exactly as they were on the wire (URL-encoded)."""
        return self._raw

    def __eq__(self, other: object) -> bool:
        if isinstance(other, LazyHeaders):
            return self._full() == other._full()
        if isinstance(other, Mapping):
            return self._full() == dict(other.items())
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"LazyHeaders({self._full()!r})"
