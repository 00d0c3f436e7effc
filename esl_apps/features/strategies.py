"""Ring-group strategies as pure functions: the reference the Redis pick script is checked against.

The atomic pick (``esl_apps.store.pick``) runs a Lua port of these rules inside Redis so that
choosing and reserving an agent is one step. Keeping the rules here, free of Redis, lets them be
unit-tested over thousands of calls in milliseconds and gives the Lua port an oracle: tests feed the
same agent states to both and require the same order (or, for the random strategies, the same
distribution).

Shared rules, identical in the Lua port:
- only ``available`` members are returned (busy, paused, wrap-up, logged-out and reserved agents
  are filtered out before a strategy sees them);
- ties are broken by ``position`` (the member's index in the group's configuration);
- the round-robin ``rotation`` is the position of the member who was offered the previous call
  (``-1`` before the first call); the next call starts just after it and wraps around.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class Strategy(StrEnum):
    SIMULTANEOUS = "simultaneous"  # ring every free member at once (config order)
    SEQUENTIAL = "sequential"  # always start with the first free member in config order
    ROUND_ROBIN = "round_robin"  # start after the member who got the previous call
    LONGEST_IDLE = "longest_idle"  # uniform load: whose last call ended longest ago (never-called first)
    FEWEST_CALLS = "fewest_calls"  # fewest calls taken since the last counter reset
    RANDOM = "random"  # uniform random order
    WEIGHTED_RANDOM = "weighted_random"  # random order, a member's chance proportional to its weight


@dataclass(frozen=True, slots=True)
class MemberView:
    """What a strategy may know about one member: its config place plus its agent's counters."""

    agent_id: str
    position: int
    weight: float = 1.0
    last_call_end_ms: int = 0  # 0 = never took a call
    calls_since_reset: int = 0
    available: bool = True


def order_members(
    strategy: Strategy | str,
    members: Sequence[MemberView],
    *,
    rotation: int = -1,
    now_ms: int = 0,
    rng: random.Random | None = None,
) -> list[MemberView]:
    """The free members in the order they should be offered the call.

    ``now_ms`` is accepted so callers can pass the clock they already hold; no current rule needs
    it (idle time is ordered by ``last_call_end_ms`` alone, which gives the same order).
    """
    del now_ms
    strategy = Strategy(strategy)
    free = sorted((m for m in members if m.available), key=lambda m: m.position)
    if strategy in (Strategy.SIMULTANEOUS, Strategy.SEQUENTIAL):
        return free
    if strategy is Strategy.ROUND_ROBIN:
        after = [m for m in free if m.position > rotation]
        before = [m for m in free if m.position <= rotation]
        return after + before
    if strategy is Strategy.LONGEST_IDLE:
        return sorted(free, key=lambda m: (m.last_call_end_ms, m.position))
    if strategy is Strategy.FEWEST_CALLS:
        return sorted(free, key=lambda m: (m.calls_since_reset, m.position))
    rng = rng or random.Random()
    if strategy is Strategy.RANDOM:
        return rng.sample(free, len(free))
    return weighted_order(free, rng)


def weighted_order(members: Sequence[MemberView], rng: random.Random) -> list[MemberView]:
    """Weighted sampling without replacement (successive sampling).

    Each next member is drawn from those left with probability weight / sum(weights left). The
    Efraimidis-Spirakis key ``u ** (1 / w)`` yields exactly that distribution in one sort.
    Weight-0 members are standbys: offered only after everyone else, in configuration order.
    """
    for m in members:
        if m.weight < 0:
            raise ValueError(f"member {m.agent_id!r}: weight must not be negative, got {m.weight}")
    weighted = [m for m in members if m.weight > 0]
    keyed = [(rng.random() ** (1.0 / m.weight), m) for m in weighted]
    keyed.sort(key=lambda pair: pair[0], reverse=True)
    standby = sorted((m for m in members if m.weight == 0), key=lambda m: m.position)
    return [m for _, m in keyed] + standby


def next_rotation(strategy: Strategy | str, ordered: Sequence[MemberView], rotation: int) -> int:
    """The rotation pointer after offering a call to ``ordered``: the position of who got it first."""
    if Strategy(strategy) is Strategy.ROUND_ROBIN and ordered:
        return ordered[0].position
    return rotation
