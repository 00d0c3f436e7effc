"""Wake-ups for queued callers across processes, without polling Redis.

One pub/sub connection per process listens to ``<prefix>:notify:*``. Two kinds of channel matter:

- ``<prefix>:notify:q:<group>:<queue>``: the head of that line may have changed (a caller left,
  stepped out to ring an agent, or came back); the callers behind wake and look at their place;
- ``<prefix>:notify:agents``: an agent may have become free (released after a ring, wrap-up over,
  logged in, unpaused); the head of every line wakes and tries to pick.

A message is only a hint: a waiter always re-reads the state, and every wait is also bounded by a
timeout, so a lost message (Redis restarted, an agent made available by a tool that does not
publish) costs at most one recheck interval, never a caller stuck in the line. Versions per
channel close the lost-wake-up race: a waiter notes the version *before* reading the state, and a
message that arrives between the read and the wait still ends the wait at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable

import redis.asyncio as aioredis

from esl_apps.aio import mark_retrieved
from esl_apps.features.queue_store import REDIS_DOWN

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


def agents_channel(key_prefix: str) -> str:
    """Where "an agent may have become free" is published (``AgentStore`` does it for every change
    that frees an agent; the runtime for releases and ends of wrap-up)."""
    return f"{key_prefix}:notify:agents"


class QueueSignals:
    def __init__(
        self, redis: aioredis.Redis | None, key_prefix: str = "esl", *, retry_s: float = 1.0
    ) -> None:
        self.redis = redis
        self.prefix = key_prefix
        self.retry_s = retry_s
        self.connected = False
        self._versions: defaultdict[str, int] = defaultdict(int)
        self._changed = asyncio.Event()
        self._listener: asyncio.Task[None] | None = None
        # publish_later's timers and publishes, cancelled by aclose: one left running would touch a
        # Redis client that is closing with the process.
        self._later: set[asyncio.TimerHandle | asyncio.Task[None]] = set()

    @property
    def agents_channel(self) -> str:
        return agents_channel(self.prefix)

    # -- waiting --------------------------------------------------------------------------------
    def versions(self, channels: Iterable[str]) -> dict[str, int]:
        """Note these before reading the state the wait depends on."""
        self._ensure_listening()
        return {channel: self._versions[channel] for channel in channels}

    async def wait(self, seen: dict[str, int], timeout_s: float, sleep: Sleep = asyncio.sleep) -> bool:
        """Until a message on one of ``seen``'s channels (True) or ``timeout_s`` on ``sleep``'s clock."""
        timer = asyncio.ensure_future(sleep(max(0.0, timeout_s)))
        try:
            while True:
                if any(self._versions[c] != v for c, v in seen.items()):
                    return True
                if timer.done():
                    return False
                changed = asyncio.ensure_future(self._changed.wait())
                try:
                    await asyncio.wait({timer, changed}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    changed.cancel()
        finally:
            timer.cancel()

    # -- publishing -----------------------------------------------------------------------------
    async def publish(self, channel: str, message: str = "") -> None:
        """Best effort: local waiters are woken at once, other processes through Redis."""
        self._bump(channel)
        if self.redis is None:
            return
        try:
            await self.redis.publish(channel, message)
        except REDIS_DOWN as exc:
            log.debug("publish %s failed: %s", channel, exc)

    def publish_later(self, delay_s: float, channel: str, message: str = "") -> None:
        """E.g. when an agent's wrap-up ends: nobody else would say the agent is free again."""

        def fire() -> None:
            self._later.discard(timer)
            task = asyncio.ensure_future(self.publish(channel, message))
            self._later.add(task)
            task.add_done_callback(self._later.discard)
            task.add_done_callback(mark_retrieved)

        try:
            timer = asyncio.get_running_loop().call_later(max(0.0, delay_s), fire)
        except RuntimeError:  # no running loop: nothing to wake
            return
        self._later.add(timer)

    def _bump(self, channel: str) -> None:
        self._versions[channel] += 1
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    # -- listening ------------------------------------------------------------------------------
    def _ensure_listening(self) -> None:
        if self.redis is None or (self._listener is not None and not self._listener.done()):
            return
        with contextlib.suppress(RuntimeError):
            self._listener = asyncio.get_running_loop().create_task(self._listen(), name="queue-signals")

    async def _listen(self) -> None:
        assert self.redis is not None
        pattern = f"{self.prefix}:notify:*"
        while True:
            pubsub = self.redis.pubsub()
            try:
                await pubsub.psubscribe(pattern)
                self.connected = True
                # Anything may have happened while we were not listening: let every waiter re-check.
                for channel in list(self._versions):
                    self._bump(channel)
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5.0)
                    if message and message.get("type") == "pmessage":
                        channel = message.get("channel")
                        self._bump(channel.decode() if isinstance(channel, bytes) else str(channel))
            except asyncio.CancelledError:
                raise
            except REDIS_DOWN as exc:
                if self.connected:
                    log.warning("queue signals lost (redis unavailable: %s); waits use timeouts", exc)
                self.connected = False
                await asyncio.sleep(self.retry_s)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    async def aclose(self) -> None:
        for pending in list(self._later):
            pending.cancel()
        self._later.clear()
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        self.connected = False
