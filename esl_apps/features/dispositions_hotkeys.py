"""Mid-call disposition hotkeys: the agent keys ``*<digit>`` while talking to the customer.

How a code travels, and why this way (traces README, 04f):

1. Before the bridge, :func:`arm_hotkeys` binds each configured key on the CALLER's leg with
   ``bind_meta_app <key> b oi set::<var>=<code>``: listen to the agent leg (``b``), run on the
   opposite leg of the presser, i.e. the caller leg (``o``), at once (``i``; without it the ``set``
   only runs after the bridge, which is useless here). The agent's DTMF never reaches the caller's
   socket as events; the ``set`` does, so the caller leg's variables hold the codes.
2. The variable is ``esl_hotkey_<category>`` for a single-valued category (keying ``*1`` then ``*2``
   for two outcomes keeps the later one, as the agent meant) and ``esl_hotkey_<category>_<key>``
   for a category that takes several codes.
3. When the bridge returns, the ring-group runtime calls ``DispositionApp.after_bridge(call, ...)``,
   which reads the codes from the caller leg's variables (the bridge's EXECUTE_COMPLETE carries
   them) and publishes them under ``<prefix>:hotkeys:<customer uuid>``.
4. The agent leg reaches the wrap-up extension about 10 ms after the caller hung up, usually
   BEFORE step 3 has run on the caller's socket; :meth:`HotkeyStore.wait` therefore blocks (BLPOP
   on ``<prefix>:hotkeys:<uuid>:ready``, at most ``hotkey_wait_s``) until the note is published, then
   wrap-up only asks for the categories still missing.

The note lives in Redis (any process may get the wrap-up connection) and, for when Redis is down,
in this process's memory (the wrap-up connection usually lands on the same process).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from esl_apps.call import Call
from esl_apps.config.dispositions import Codebook

__all__ = ["HOTKEY_VAR_PREFIX", "HotkeyNote", "HotkeyStore", "arm_hotkeys", "hotkey_codes", "hotkey_variable"]

log = logging.getLogger(__name__)

HOTKEY_VAR_PREFIX = "esl_hotkey_"
_REDIS_DOWN = (RedisError, OSError, asyncio.TimeoutError)
_MEMORY_KEPT = 10_000


def hotkey_variable(codebook: Codebook, key: str, code: str) -> str:
    found = codebook.lookup(code)
    if found is None:
        raise ValueError(f"hotkey *{key}: code {code} is not in the codebook")
    category = codebook.categories.get(found.category)
    if category is not None and category.multiple:
        return f"{HOTKEY_VAR_PREFIX}{found.category}_{key}"
    return f"{HOTKEY_VAR_PREFIX}{found.category}"


async def arm_hotkeys(call: Call, codebook: Codebook) -> int:
    """Bind every ``capture.hotkeys`` key on the caller's leg; call before bridging to agents.
    Returns how many keys were bound."""
    bound = 0
    for key, code in sorted(codebook.capture.hotkeys.items()):
        await call.bind_meta(key, hotkey_variable(codebook, key, code), code)
        bound += 1
    return bound


def hotkey_codes(variables: Mapping[str, str], codebook: Codebook) -> tuple[str, ...]:
    """The codes keyed mid-call, from the caller leg's channel variables (codebook order)."""
    keyed = {
        value for name, value in variables.items()
        if name.startswith(HOTKEY_VAR_PREFIX) and value and codebook.lookup(value) is not None
    }
    return tuple(c.code for c in codebook.codes if c.code in keyed)


@dataclass(frozen=True, slots=True)
class HotkeyNote:
    """What the caller's side knows when the bridge ends, for the agent's wrap-up leg."""

    codes: tuple[str, ...] = ()
    agent: str | None = None
    group: str | None = None
    number: str | None = None
    ended_by: str | None = None  # "caller" | "agent"
    offered_at_ms: int | None = None
    ended_at_ms: int | None = None

    def to_json(self) -> str:
        data = asdict(self)
        data["codes"] = list(self.codes)
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> HotkeyNote:
        data: dict[str, Any] = json.loads(text)
        fields = {k: data.get(k) for k in cls.__dataclass_fields__}
        fields["codes"] = tuple(data.get("codes") or ())
        return cls(**fields)


class HotkeyStore:
    def __init__(
        self, redis: aioredis.Redis | None, key_prefix: str = "esl", *, ttl_s: int = 6 * 3600
    ) -> None:
        self.redis = redis
        self.prefix = key_prefix
        self.ttl_s = ttl_s
        self._memory: OrderedDict[str, tuple[HotkeyNote | None, asyncio.Event, float]] = OrderedDict()

    def key(self, customer_uuid: str) -> str:
        return f"{self.prefix}:hotkeys:{customer_uuid}"

    def _slot(self, customer_uuid: str) -> tuple[HotkeyNote | None, asyncio.Event, float]:
        slot = self._memory.get(customer_uuid)
        if slot is None:
            slot = (None, asyncio.Event(), time.monotonic())
            self._memory[customer_uuid] = slot
            while len(self._memory) > _MEMORY_KEPT:
                self._memory.popitem(last=False)
        return slot

    async def publish(self, customer_uuid: str, note: HotkeyNote) -> None:
        """Never raises: a lost note only means wrap-up asks for every category."""
        _, event, born = self._slot(customer_uuid)
        self._memory[customer_uuid] = (note, event, born)
        event.set()
        if self.redis is None:
            return
        key = self.key(customer_uuid)
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.set(key, note.to_json(), ex=self.ttl_s)
                pipe.rpush(key + ":ready", "1")
                pipe.expire(key + ":ready", self.ttl_s)
                await pipe.execute()
        except _REDIS_DOWN as exc:
            log.warning("hotkeys of %s kept in memory only (redis unavailable: %s)", customer_uuid, exc)

    async def get(self, customer_uuid: str) -> HotkeyNote | None:
        slot = self._memory.get(customer_uuid)
        if slot is not None and slot[0] is not None:
            return slot[0]
        if self.redis is None:
            return None
        try:
            raw = await self.redis.get(self.key(customer_uuid))
        except _REDIS_DOWN:
            return None
        return HotkeyNote.from_json(raw) if raw else None

    async def wait(self, customer_uuid: str, timeout_s: float) -> HotkeyNote | None:
        """The note for this call, waiting up to ``timeout_s`` for the caller's side to publish it."""
        note = await self.get(customer_uuid)
        if note is not None or timeout_s <= 0:
            return note
        _, event, _ = self._slot(customer_uuid)
        waiters: set[asyncio.Task[Any]] = {asyncio.ensure_future(event.wait())}
        if self.redis is not None:
            waiters.add(asyncio.ensure_future(self._blpop(customer_uuid, timeout_s)))
        try:
            await asyncio.wait(waiters, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in waiters:
                task.cancel()
            for task in waiters:
                with contextlib.suppress(asyncio.CancelledError, *_REDIS_DOWN):
                    await task
        return await self.get(customer_uuid)

    async def _blpop(self, customer_uuid: str, timeout_s: float) -> None:
        try:
            await self.redis.blpop([self.key(customer_uuid) + ":ready"], timeout=max(timeout_s, 0.01))  # type: ignore[union-attr]
        except _REDIS_DOWN:
            await asyncio.sleep(timeout_s)  # Redis down: only the in-memory note can still arrive
