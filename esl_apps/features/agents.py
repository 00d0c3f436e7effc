"""Agent state shared by every node and every group, kept in Redis.

An agent in several ring groups is one agent: state is keyed by agent id only, so a call from one
group makes the agent busy for all of them. Each change is one Lua script that also updates the
free-agent indexes of every group the agent belongs to, so the pick script never scans members.

Time-driven transitions are derived, not scheduled: "wrap-up until T" becomes "available" when
read after T, and a reservation whose lease has expired counts as free. No timer has to survive a
process restart for an agent to come back.

Every change that leaves an agent free (log in, unpause, wrap-up done, a call ended without
wrap-up, a reservation released) is published on ``<prefix>:notify:agents``, so callers queued on
any node are offered the agent at once, whoever made the change (``esl-apps agents``, a feature
code, the disposition app), instead of at their next recheck.
"""

from __future__ import annotations

import builtins
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import tzinfo
from enum import StrEnum
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from esl_apps.features.queue_signals import agents_channel
from esl_apps.features.strategies import MemberView
from esl_apps.store.keys import PoolKeys
from esl_apps.store.periods import ResetMode, check_mode, period_ids
from esl_apps.store.scripts import register


class AgentStatus(StrEnum):
    LOGGED_OUT = "logged_out"
    AVAILABLE = "available"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"


NO_ANSWER_REASON = "no-answer"
# Operations that can leave an agent free: queued callers are told when they do.
_FREEING_OPS = frozenset({"login", "unpause", "wrapup_done", "call_ended", "release"})

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Lease:
    """A reservation: ``owner`` (a process) is ringing the agent for ``call_uuid`` until ``expires_ms``."""

    owner: str
    call_uuid: str
    group: str
    expires_ms: int


@dataclass(frozen=True, slots=True)
class AgentState:
    agent_id: str
    status: AgentStatus
    reason: str = ""  # pause reason code
    calls_taken: int = 0  # ever
    calls_today: int = 0  # fewest_calls counts for groups that reset daily ...
    calls_this_week: int = 0  # ... or weekly (Monday), in the store's time zone
    last_call_end_ms: int = 0  # 0 = never
    talk_time_s: float = 0.0
    consecutive_no_answers: int = 0
    wrapup_until_ms: int = 0
    reserved_by: Lease | None = None
    call_uuid: str = ""
    since_ms: int = 0  # when the stored status was set
    pending: str = ""  # "pause" or "logout" requested during a call, applied when it ends
    as_of_ms: int = 0  # Redis clock at read time (the derived fields are relative to it)

    @property
    def free(self) -> bool:
        """Could be offered a call now."""
        return self.status is AgentStatus.AVAILABLE and self.reserved_by is None

    def calls_since_reset(self, reset: ResetMode | str = "daily") -> int:
        mode = check_mode(reset)
        if mode == "daily":
            return self.calls_today
        return self.calls_this_week if mode == "weekly" else self.calls_taken

    def member_view(self, position: int, weight: float = 1.0, reset: ResetMode | str = "daily") -> MemberView:
        return MemberView(
            agent_id=self.agent_id,
            position=position,
            weight=weight,
            last_call_end_ms=self.last_call_end_ms,
            calls_since_reset=self.calls_since_reset(reset),
            available=self.free,
        )

    @classmethod
    def from_hash(
        cls, agent_id: str, fields: dict[str, str], now_ms: int, periods: tuple[str, str] | None = None
    ) -> AgentState:
        """``periods`` are the (day, week) ids the counts are read for (default: from ``now_ms``, local)."""

        def i(name: str) -> int:
            return int(float(fields.get(name) or 0))

        day, week = periods or period_ids(now_ms)

        status = AgentStatus(fields.get("status") or AgentStatus.LOGGED_OUT)
        wrapup_until = i("wrapup_until")
        if status is AgentStatus.WRAP_UP and wrapup_until <= now_ms:
            status = AgentStatus.AVAILABLE
        lease = None
        if fields.get("lease_owner") and i("lease_until") > now_ms:
            lease = Lease(
                owner=fields["lease_owner"],
                call_uuid=fields.get("lease_call", ""),
                group=fields.get("lease_group", ""),
                expires_ms=i("lease_until"),
            )
        return cls(
            agent_id=agent_id,
            status=status,
            reason=fields.get("reason", "") if status is AgentStatus.PAUSED else "",
            calls_taken=i("calls_taken"),
            calls_today=i("cd") if fields.get("cd_id") == day else 0,
            calls_this_week=i("cw") if fields.get("cw_id") == week else 0,
            last_call_end_ms=i("last_call_end"),
            talk_time_s=float(fields.get("talk_time_s") or 0),
            consecutive_no_answers=i("no_answers"),
            wrapup_until_ms=wrapup_until if status is AgentStatus.WRAP_UP else 0,
            reserved_by=lease,
            call_uuid=fields.get("call_uuid", ""),
            since_ms=i("since"),
            pending=fields.get("pending", ""),
            as_of_ms=now_ms,
        )


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _pairs(flat: Sequence[Any]) -> dict[str, str]:
    return {_text(flat[n]): _text(flat[n + 1]) for n in range(0, len(flat) - 1, 2)}


def _time_ms(reply: Sequence[Any]) -> int:
    return int(reply[0]) * 1000 + int(reply[1]) // 1000


class AgentStore:
    """Agent state operations; each is one atomic round trip to Redis."""

    def __init__(
        self,
        redis: aioredis.Redis,
        key_prefix: str = "esl",
        *,
        tz: tzinfo | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``tz`` is the centre's time zone: it decides when daily/weekly call counts start again."""
        self.redis = redis
        self.keys = PoolKeys(key_prefix)
        self.tz = tz
        self.clock = clock
        self.agents_channel = agents_channel(key_prefix)
        self._op = register(redis, "agent_op", with_common=True)

    async def _apply(self, op: str, agent_id: str, *args: Any) -> tuple[bool, AgentState]:
        if not agent_id:
            raise ValueError("agent id must not be empty")
        periods = self.periods()
        reply = await self._op(keys=[self.keys.timed], args=[self.keys.base, *periods, op, agent_id, *args])
        flag, now = int(reply[0]), int(reply[1])
        state = AgentState.from_hash(agent_id, _pairs(reply[2:]), now, periods)
        if flag and op in _FREEING_OPS and state.free:
            await self._announce_free(agent_id)
        return bool(flag), state

    async def _announce_free(self, agent_id: str) -> None:
        """A hint only (waiters re-read the state and also recheck on a timer), so a failure here
        never fails the change that has already been made."""
        try:
            await self.redis.publish(self.agents_channel, agent_id)
        except (RedisError, OSError) as exc:
            log.warning("agent %s is free but queued callers were not told (redis: %s)", agent_id, exc)

    def periods(self) -> tuple[str, str]:
        """Today's and this week's ids in the centre's zone (what the scripts count calls under)."""
        return period_ids(int(self.clock() * 1000), self.tz)

    async def login(self, agent_id: str) -> AgentState:
        return (await self._apply("login", agent_id))[1]

    async def logout(self, agent_id: str) -> AgentState:
        """Logged out now, or when the current call ends (``pending == "logout"``)."""
        return (await self._apply("logout", agent_id))[1]

    async def pause(self, agent_id: str, reason: str = "") -> AgentState:
        """Paused now, or when the current call ends. A logged-out agent stays logged out."""
        return (await self._apply("pause", agent_id, reason))[1]

    async def unpause(self, agent_id: str) -> AgentState:
        return (await self._apply("unpause", agent_id))[1]

    async def call_started(self, agent_id: str, call_uuid: str) -> AgentState:
        """The agent is bridged to ``call_uuid`` (busy for every group); clears any reservation."""
        return (await self._apply("call_started", agent_id, call_uuid))[1]

    async def call_ended(
        self, agent_id: str, talk_s: float, wrapup_s: float, call_uuid: str | None = None
    ) -> AgentState:
        """Wrap-up until now + ``wrapup_s``, then available (derived at read time, no timer).

        Ignored (state returned unchanged) when the agent is not on a call, or on a different call
        than ``call_uuid``, so a late or duplicated hangup event cannot cut a new call's state short.
        """
        return (await self._apply("call_ended", agent_id, talk_s, wrapup_s, call_uuid or ""))[1]

    async def no_answer(self, agent_id: str, auto_pause_after: int | None = None) -> AgentState:
        """Count a missed offer; at ``auto_pause_after`` in a row the agent is paused ("no-answer")."""
        return (await self._apply("no_answer", agent_id, auto_pause_after or 0))[1]

    async def wrapup_done(self, agent_id: str) -> AgentState:
        """End wrap-up early (the agent keyed their disposition): available now."""
        return (await self._apply("wrapup_done", agent_id))[1]

    async def release(self, agent_id: str, call_uuid: str) -> AgentState:
        """Drop the reservation made for ``call_uuid`` (whoever made it)."""
        return (await self._apply("release", agent_id, call_uuid))[1]

    async def get(self, agent_id: str) -> AgentState:
        return (await self.list([agent_id]))[0]

    async def list(self, ids: Sequence[str]) -> builtins.list[AgentState]:
        """States of ``ids`` in one round trip (unknown agents are logged out)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.time()
            for agent_id in ids:
                pipe.hgetall(self.keys.agent(agent_id))
            replies = await pipe.execute()
        now = _time_ms(replies[0])
        periods = self.periods()
        return [
            AgentState.from_hash(agent_id, {_text(k): _text(v) for k, v in fields.items()}, now, periods)
            for agent_id, fields in zip(ids, replies[1:], strict=True)
        ]

    async def known_agents(self) -> builtins.list[str]:
        """Every agent that has ever been changed or configured in a group, sorted."""
        return sorted(_text(a) for a in await self.redis.smembers(self.keys.registry))
