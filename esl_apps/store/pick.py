"""Pick and reserve ring-group agents in one atomic Redis step.

Two processes serving the same group must never ring one agent for two callers, and a process
that dies while ringing must not leave agents "stuck reserved" (mod_callcenter's classic bug). So
the choice and the reservation are one Lua script (``lua/pick.lua``): it applies the strategy to
the group's free-agent indexes and writes a lease (owner, call, expiry in Redis time) on each
agent it returns. An expired lease counts as free; ``confirm`` turns a lease into "on call" and
``release`` frees the agents that did not answer.

The member list travels to Redis only when it changes: each pick sends a fingerprint of the list
and the script answers STALE if the pool holds another one, then the picker syncs and retries.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import socket
import time
import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from esl_apps.features.strategies import Strategy
from esl_apps.store.keys import PoolKeys
from esl_apps.store.periods import ResetMode, check_mode, period_ids
from esl_apps.store.scripts import register

DEFAULT_LEASE_MS = 60_000


@dataclass(frozen=True, slots=True)
class MemberConfig:
    """One member of a ring group, in configuration order. Timeouts are used by the ringer, not the pick.

    Weight matters to weighted_random only; weight 0 makes the member a standby (offered last).
    """

    agent_id: str
    weight: float = 1.0
    timeout_s: int = 20
    delay_s: int = 0

    def __post_init__(self) -> None:
        if not self.agent_id:
            raise ValueError("member agent_id must not be empty")
        if self.weight < 0:
            raise ValueError(f"member {self.agent_id!r}: weight must not be negative, got {self.weight}")


@dataclass(frozen=True, slots=True)
class PickResult:
    agents: list[str]
    rotation_after: int


def default_owner_id() -> str:
    """Unique per process start, readable in ``agents list`` output (host:pid:random)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def _member_pairs(members: Sequence[Any]) -> list[list[Any]]:
    pairs: list[list[Any]] = []
    seen: set[str] = set()
    for m in members:
        agent = str(getattr(m, "agent_id", None) or getattr(m, "agent", ""))
        weight = float(getattr(m, "weight", 1.0))
        if not agent:
            raise ValueError(f"ring group member without an agent id: {m!r}")
        if agent in seen:
            raise ValueError(f"agent {agent!r} is listed twice in one group")
        if weight < 0:
            raise ValueError(f"member {agent!r}: weight must not be negative, got {weight}")
        seen.add(agent)
        pairs.append([agent, weight])
    return pairs


def _fingerprint(pairs: list[list[Any]]) -> str:
    return hashlib.sha1(json.dumps(pairs, separators=(",", ":")).encode()).hexdigest()[:20]


class GroupPicker:
    """Picks for any group; one instance per process (``owner_id`` names the process in leases)."""

    def __init__(
        self,
        redis: aioredis.Redis,
        key_prefix: str = "esl",
        owner_id: str | None = None,
        *,
        tz: tzinfo | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.redis = redis
        self.keys = PoolKeys(key_prefix)
        self.owner_id = owner_id or default_owner_id()
        self.tz = tz  # the centre's time zone: when daily/weekly fewest_calls counts restart
        self.clock = clock
        self._pick = register(redis, "pick", with_common=True)
        self._sync = register(redis, "sync_group", with_common=True)
        self._op = register(redis, "agent_op", with_common=True)
        # group -> (member sequence last seen, reset mode, pairs, fingerprint); tuples trusted by identity.
        self._members: dict[str, tuple[Sequence[Any], str, list[list[Any]], str]] = {}
        self._rng = random.Random()

    def _prepare(self, group_id: str, members: Sequence[Any], reset: str) -> tuple[list[list[Any]], str]:
        cached = self._members.get(group_id)
        if cached is not None and cached[0] is members and cached[1] == reset and isinstance(members, tuple):
            return cached[2], cached[3]
        check_mode(reset)
        pairs = _member_pairs(members)
        if not pairs:
            raise ValueError(f"ring group {group_id!r} has no members")
        version = _fingerprint([reset, *pairs])
        self._members[group_id] = (members, reset, pairs, version)
        return pairs, version

    def _common_args(self) -> list[str]:
        day, week = period_ids(int(self.clock() * 1000), self.tz)
        return [self.keys.base, day, week]

    async def sync_group(
        self, group_id: str, members: Sequence[Any], reset: ResetMode | str = "daily"
    ) -> str:
        """Write the member list to Redis now (picks also do it when needed); returns its fingerprint."""
        pairs, version = self._prepare(group_id, members, reset)
        await self._sync(
            keys=[self.keys.timed],
            args=[*self._common_args(), group_id, version, json.dumps(pairs, separators=(",", ":")), reset],
        )
        return version

    async def pick(
        self,
        group_id: str,
        strategy: Strategy | str,
        members: Sequence[Any],
        *,
        count: int | None = 1,
        lease_ms: int = DEFAULT_LEASE_MS,
        call_uuid: str = "",
        exclude: Collection[str] = (),
        reset: ResetMode | str = "daily",
    ) -> list[str]:
        """Reserve and return up to ``count`` free members in ring order (None: every free member).

        ``exclude`` leaves out agents already tried for this call (a sequential hunt asks for one
        agent at a time); ``reset`` is the group's ``fewest_calls_reset``. Pass the group's members
        as the same tuple each time: it is then fingerprinted once per process, not once per call.
        """
        result = await self.pick_result(
            group_id, strategy, members, count=count, lease_ms=lease_ms, call_uuid=call_uuid,
            exclude=exclude, reset=reset,
        )
        return result.agents

    async def pick_result(
        self,
        group_id: str,
        strategy: Strategy | str,
        members: Sequence[Any],
        *,
        count: int | None = 1,
        lease_ms: int = DEFAULT_LEASE_MS,
        call_uuid: str = "",
        exclude: Collection[str] = (),
        reset: ResetMode | str = "daily",
    ) -> PickResult:
        strategy = Strategy(strategy)
        if lease_ms <= 0:
            raise ValueError("lease_ms must be positive")
        if count is not None and count <= 0:
            return PickResult([], await self.rotation(group_id))
        pairs, version = self._prepare(group_id, members, reset)
        common = self._common_args()
        args = [
            *common, group_id, version, strategy.value, -1 if count is None else count, lease_ms,
            self.owner_id, call_uuid, self._rng.getrandbits(31), json.dumps(list(exclude)),
        ]
        try:
            reply = await self._pick(keys=[self.keys.timed], args=args)
        except ResponseError as exc:
            if not str(exc).startswith("STALE"):
                raise
            await self._sync(
                keys=[self.keys.timed],
                args=[*common, group_id, version, json.dumps(pairs, separators=(",", ":")), reset],
            )
            reply = await self._pick(keys=[self.keys.timed], args=args)
        return PickResult(agents=[_text(a) for a in reply[1:]], rotation_after=int(reply[0]))

    async def release(self, agent_ids: Collection[str], call_uuid: str = "") -> list[str]:
        """Free this process's reservations on ``agent_ids`` (for ``call_uuid``); returns those freed."""
        if not agent_ids:
            return []
        reply = await self._op(
            keys=[self.keys.timed],
            args=[*self._common_args(), "release_many", self.owner_id, call_uuid, *agent_ids],
        )
        return [_text(a) for a in reply]

    async def renew(self, agent_ids: Collection[str], call_uuid: str, lease_ms: int) -> list[str]:
        """Extend this process's live leases for ``call_uuid`` to now + ``lease_ms``; returns those renewed.

        An expired lease is not revived: the agent may already be ringing for someone else.
        """
        if not agent_ids:
            return []
        reply = await self._op(
            keys=[self.keys.timed],
            args=[*self._common_args(), "renew", self.owner_id, call_uuid, lease_ms, *agent_ids],
        )
        return [_text(a) for a in reply]

    async def confirm(self, agent_id: str, call_uuid: str) -> bool:
        """The agent answered ``call_uuid``: on call now. False if our lease had expired or was not ours."""
        reply = await self._op(
            keys=[self.keys.timed],
            args=[*self._common_args(), "confirm", agent_id, self.owner_id, call_uuid],
        )
        return int(reply[0]) == 1

    async def rotation(self, group_id: str) -> int:
        """The round-robin pointer: position of the member offered the previous call (-1 before any)."""
        value = await self.redis.hget(self.keys.group(group_id, "meta"), "rr")
        return -1 if value is None else int(float(_text(value)))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
