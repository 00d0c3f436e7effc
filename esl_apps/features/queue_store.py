"""The waiting line of a queue, shared by every node through Redis (FIFO across processes).

A caller's place is a member of a sorted set scored by their arrival time (epoch ms), so whichever
node holds the call, the caller who arrived first is first. Only the head of the line may pick an
agent; when it has reserved one it steps out of the line (keeping its score) so the next caller can
be served by the next free agent, and steps back in at the same score if nobody answered.

A node that dies leaves its callers' places behind. Each place therefore has a lease in a second
sorted set (expiry in Redis server time, renewed by a heartbeat of the node holding the call); every
script first removes places whose lease has expired, so a dead node's callers stop blocking the line
within one lease, without a janitor process.

Key layout (``{rg:<group>}`` is the Redis Cluster hash tag: a group's queues and callbacks share one
slot so each script touches one slot, and the callback dialer can compare callbacks with the callers
still waiting in one step):

- ``<prefix>:{rg:<group>}:q:<queue>:wait``  zset  call uuid -> arrival (epoch ms)
- ``<prefix>:{rg:<group>}:q:<queue>:live``  zset  call uuid -> lease expiry (Redis time, ms)
- ``<prefix>:{rg:<group>}:q:<queue>:stats`` hash  ``spp``: seconds of waiting per place in line (EWMA)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

REDIS_DOWN: tuple[type[BaseException], ...] = (RedisError, OSError, asyncio.TimeoutError)
DEFAULT_LEASE_S = 30.0
_EWMA_WEIGHT = 0.25  # weight of a new sample: recent waits matter, one outlier does not dominate

_PRELUDE = """
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function purge(now)
  local dead = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
  for _, member in ipairs(dead) do redis.call('ZREM', KEYS[1], member) end
  if #dead > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now) end
  return #dead
end
"""

# KEYS: wait, live. ARGV: uuid, arrival_ms, max_length (0: no limit), lease_ms
# -> {position (0: full), length, purged}
_JOIN = _PRELUDE + """
local now = now_ms()
local purged = purge(now)
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  local length = redis.call('ZCARD', KEYS[1])
  local limit = tonumber(ARGV[3])
  if limit > 0 and length >= limit then return {0, length, purged} end
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
end
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[4]), ARGV[1])
return {redis.call('ZRANK', KEYS[1], ARGV[1]) + 1, redis.call('ZCARD', KEYS[1]), purged}
"""

# KEYS: wait, live, stats. ARGV: uuid, lease_ms -> {position (0: not in line), length, purged, spp}
_CHECK = _PRELUDE + """
local now = now_ms()
local purged = purge(now)
local rank = redis.call('ZRANK', KEYS[1], ARGV[1])
local spp = redis.call('HGET', KEYS[3], 'spp') or ''
if not rank then return {0, redis.call('ZCARD', KEYS[1]), purged, spp} end
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[1])
return {rank + 1, redis.call('ZCARD', KEYS[1]), purged, spp}
"""

# KEYS: live. ARGV: lease_ms, uuid... -> number renewed (only places still in line: XX)
_RENEW = """
local t = redis.call('TIME')
local expires = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
local renewed = 0
for i = 2, #ARGV do
  renewed = renewed + redis.call('ZADD', KEYS[1], 'XX', 'CH', expires, ARGV[i])
end
return renewed
"""

# KEYS: stats. ARGV: sample, weight
_SAMPLE = """
local old = tonumber(redis.call('HGET', KEYS[1], 'spp'))
local new = tonumber(ARGV[1])
if old then new = old + tonumber(ARGV[2]) * (new - old) end
redis.call('HSET', KEYS[1], 'spp', tostring(new))
return tostring(new)
"""


@dataclass(frozen=True, slots=True)
class QueueKeys:
    prefix: str
    group: str
    queue: str

    @property
    def tag(self) -> str:
        return f"{self.prefix}:{{rg:{self.group}}}"

    @property
    def wait(self) -> str:
        return f"{self.tag}:q:{self.queue}:wait"

    @property
    def live(self) -> str:
        return f"{self.tag}:q:{self.queue}:live"

    @property
    def stats(self) -> str:
        return f"{self.tag}:q:{self.queue}:stats"

    @property
    def wake_channel(self) -> str:
        """Published when the head of this line may have changed (see QueueSignals)."""
        return f"{self.prefix}:notify:q:{self.group}:{self.queue}"


@dataclass(frozen=True, slots=True)
class Place:
    """Where a caller stands: ``position`` 1 is the head, 0 means not in line (or the line was full)."""

    position: int
    length: int
    purged: int = 0  # dead nodes' places removed by this call
    seconds_per_place: float | None = None  # EWMA of waiting time per place in line, None until known

    @property
    def is_head(self) -> bool:
        return self.position == 1

    def estimated_wait_s(self) -> float | None:
        if self.seconds_per_place is None or self.position < 1:
            return None
        return self.seconds_per_place * self.position


def _int(value: Any) -> int:
    return int(value.decode() if isinstance(value, bytes) else value)


def _float_or_none(value: Any) -> float | None:
    text = value.decode() if isinstance(value, bytes) else str(value or "")
    try:
        return float(text) if text else None
    except ValueError:
        return None


class QueueStore:
    """Places in queues for one process; a heartbeat keeps this process's places alive."""

    def __init__(
        self, redis: aioredis.Redis, key_prefix: str = "esl", *, lease_s: float = DEFAULT_LEASE_S
    ) -> None:
        if lease_s <= 0:
            raise ValueError("lease_s must be positive")
        self.redis = redis
        self.prefix = key_prefix
        self.lease_ms = int(lease_s * 1000)
        self._join = redis.register_script(_JOIN)
        self._check = redis.register_script(_CHECK)
        self._renew = redis.register_script(_RENEW)
        self._sample = redis.register_script(_SAMPLE)
        self._mine: dict[QueueKeys, set[str]] = {}
        self._heartbeat: asyncio.Task[None] | None = None

    def keys(self, group: str, queue: str) -> QueueKeys:
        return QueueKeys(self.prefix, group, queue)

    async def join(self, keys: QueueKeys, call_uuid: str, arrival_ms: int, max_length: int = 0) -> Place:
        """Take a place scored ``arrival_ms`` (kept if already in line); position 0 = the line is full.

        ``max_length`` 0 joins regardless of length: a caller returning after an unanswered ring
        had their place already and must not be refused it.
        """
        reply = await self._join(
            keys=[keys.wait, keys.live], args=[call_uuid, arrival_ms, max_length, self.lease_ms]
        )
        place = Place(_int(reply[0]), _int(reply[1]), _int(reply[2]))
        if place.position:
            self._mine.setdefault(keys, set()).add(call_uuid)
            self._ensure_heartbeat()
        return place

    async def check(self, keys: QueueKeys, call_uuid: str) -> Place:
        """The caller's place now (renewing its lease); position 0 if it is no longer in line."""
        reply = await self._check(keys=[keys.wait, keys.live, keys.stats], args=[call_uuid, self.lease_ms])
        return Place(_int(reply[0]), _int(reply[1]), _int(reply[2]), _float_or_none(reply[3]))

    async def leave(self, keys: QueueKeys, call_uuid: str) -> None:
        self._forget(keys, call_uuid)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zrem(keys.wait, call_uuid)
            pipe.zrem(keys.live, call_uuid)
            await pipe.execute()

    def _forget(self, keys: QueueKeys, call_uuid: str) -> None:
        mine = self._mine.get(keys)
        if mine is not None:
            mine.discard(call_uuid)
            if not mine:
                del self._mine[keys]

    async def waiting(self, keys: QueueKeys) -> list[tuple[str, int]]:
        """The line in order: (call uuid, arrival ms)."""
        items = await self.redis.zrange(keys.wait, 0, -1, withscores=True)
        return [(m.decode() if isinstance(m, bytes) else m, int(s)) for m, s in items]

    async def record_wait(self, keys: QueueKeys, waited_s: float, position: int) -> None:
        """Learn the line's pace from a caller who reached an agent: seconds waited per place."""
        if waited_s <= 0 or position < 1:
            return
        await self._sample(keys=[keys.stats], args=[round(waited_s / position, 3), _EWMA_WEIGHT])

    # -- heartbeat ------------------------------------------------------------------------------
    def _ensure_heartbeat(self) -> None:
        if self._heartbeat is None or self._heartbeat.done():
            self._heartbeat = asyncio.create_task(self._beat(), name="queue-heartbeat")

    async def _beat(self) -> None:
        """Renew every place this process holds, one pipelined round trip per beat."""
        while self._mine:
            await asyncio.sleep(self.lease_ms / 3000)
            held = {k: sorted(v) for k, v in self._mine.items() if v}
            if not held:
                continue
            try:
                async with self.redis.pipeline(transaction=False) as pipe:
                    for keys, uuids in held.items():
                        await self._renew(keys=[keys.live], args=[self.lease_ms, *uuids], client=pipe)
                    await pipe.execute()
            except REDIS_DOWN as exc:  # the places survive until their lease ends; calls go on
                log.warning("queue heartbeat failed (redis unavailable: %s)", exc)

    async def aclose(self) -> None:
        self._mine.clear()
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
            self._heartbeat = None
