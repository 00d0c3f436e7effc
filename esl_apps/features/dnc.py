"""The do-not-call list: numbers this project must never dial.

One Redis set of normalised numbers, so ``+44 20 7123 4567``, ``0044-20-7123-4567`` and
``+442071234567`` are one entry. Every dial the project places to a customer goes through
:meth:`DncList.is_blocked` (the callback dialer checks it right before each attempt).

Additions made while Redis is down are not lost: the disposition follow-up also appends each one
to the ``dnc`` record stream (spooled to disk during an outage), and :meth:`DncList.sync_from`
folds that stream into the set; the callback dialer runs it before every dialling round, so a
number added during an outage is blocked before anyone can dial it once Redis is back.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

import redis.asyncio as aioredis

from esl_apps.features.callback_store_lua import FORWARD_CURSOR

__all__ = ["DNC_STREAM", "DncList", "normalise_number"]

DNC_STREAM = "dnc"
_FORMATTING = re.compile(r"[\s\-().]")


def normalise_number(number: str, country_code: str | None = None) -> str:
    """Digits with a leading ``+`` when international; ``00`` becomes ``+``.

    With ``country_code`` (e.g. ``"44"``) a national number with one leading ``0`` becomes
    ``+44...``, so national and international spellings of one line match. Anything that is not a
    phone number after removing formatting is returned stripped, unchanged otherwise (it can still
    be listed and matched exactly).
    """
    text = _FORMATTING.sub("", number or "")
    if text.startswith("00"):
        text = "+" + text[2:]
    digits = text[1:] if text.startswith("+") else text
    if not digits.isdigit():
        return text
    if text.startswith("+"):
        return text
    if country_code and digits.startswith("0") and not digits.startswith("00"):
        return f"+{country_code}{digits[1:]}"
    return digits


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class DncList:
    def __init__(
        self, redis: aioredis.Redis, key_prefix: str = "esl", *, country_code: str | None = None
    ) -> None:
        self.redis = redis
        self.key = f"{key_prefix}:dnc"
        self.cursor_key = f"{key_prefix}:dnc:cursor"
        self.country_code = country_code

    def normalise(self, number: str) -> str:
        return normalise_number(number, self.country_code)

    async def add(self, number: str) -> bool:
        """True when the number was not listed yet."""
        return bool(await self.redis.sadd(self.key, self.normalise(number)))

    async def remove(self, number: str) -> bool:
        return bool(await self.redis.srem(self.key, self.normalise(number)))

    async def is_blocked(self, number: str) -> bool:
        """Whether ``number`` must not be dialled. Raises on a Redis error: not knowing is not "no"."""
        return bool(await self.redis.sismember(self.key, self.normalise(number)))

    async def blocked_of(self, numbers: Iterable[str]) -> set[str]:
        """The given numbers that are listed (as given), in one round trip."""
        given = list(numbers)
        if not given:
            return set()
        flags = await self.redis.smismember(self.key, [self.normalise(n) for n in given])
        return {n for n, flag in zip(given, flags, strict=True) if int(flag)}

    async def count(self) -> int:
        return int(await self.redis.scard(self.key))

    async def numbers(self) -> list[str]:
        return sorted(_text(n) for n in await self.redis.smembers(self.key))

    async def sync_from(self, stream_key: str, batch: int = 500) -> int:
        """Apply the ``dnc`` record stream entries not folded in yet (``action`` add or remove, in
        order); returns how many entries were read. Safe from several processes at once: SADD/SREM
        are idempotent and the shared cursor only ever moves forward."""
        cursor = await self.redis.get(self.cursor_key)
        lower = "(" + _text(cursor) if cursor else "-"
        read = 0
        while True:
            entries = await self.redis.xrange(stream_key, min=lower, max="+", count=batch)
            if not entries:
                return read
            async with self.redis.pipeline(transaction=True) as pipe:
                for _entry_id, fields in entries:
                    change = _change_of({_text(k): _text(v) for k, v in fields.items()}.get("data"))
                    if change is None:
                        continue
                    action, number = change
                    if action == "remove":
                        pipe.srem(self.key, self.normalise(number))
                    else:
                        pipe.sadd(self.key, self.normalise(number))
                last = _text(entries[-1][0])
                pipe.eval(FORWARD_CURSOR, 1, self.cursor_key, last)
                await pipe.execute()
            read += len(entries)
            lower = "(" + last


def _change_of(data: str | None) -> tuple[str, str] | None:
    if not data:
        return None
    try:
        record = json.loads(data)
    except ValueError:
        return None
    if not isinstance(record, dict) or not record.get("number"):
        return None
    action = "remove" if record.get("action") == "remove" else "add"
    return action, str(record["number"])
