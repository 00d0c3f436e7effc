"""The pure strategy rules over many calls: who gets offered each call, and in what order."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from esl_apps.features.strategies import MemberView, Strategy, next_rotation, order_members


def members(n: int, **overrides: object) -> list[MemberView]:
    return [MemberView(agent_id=f"a{i}", position=i, **overrides) for i in range(n)]  # type: ignore[arg-type]


def with_(m: MemberView, **changes: object) -> MemberView:
    return replace(m, **changes)  # type: ignore[arg-type]


def test_sequential_and_simultaneous_keep_config_order_and_skip_unavailable() -> None:
    group = members(5)
    group[1] = with_(group[1], available=False)
    group = list(reversed(group))  # input order must not matter, position does
    for strategy in (Strategy.SEQUENTIAL, Strategy.SIMULTANEOUS):
        assert [m.agent_id for m in order_members(strategy, group)] == ["a0", "a2", "a3", "a4"]


def test_round_robin_visits_everyone_once_per_cycle() -> None:
    group = members(7)
    rotation = -1
    offered: list[str] = []
    for _ in range(7 * 20):
        ordered = order_members(Strategy.ROUND_ROBIN, group, rotation=rotation)
        offered.append(ordered[0].agent_id)
        rotation = next_rotation(Strategy.ROUND_ROBIN, ordered, rotation)
    for cycle in range(20):
        assert sorted(offered[cycle * 7 : cycle * 7 + 7]) == sorted(m.agent_id for m in group)
    assert offered[:8] == ["a0", "a1", "a2", "a3", "a4", "a5", "a6", "a0"]


def test_round_robin_skips_busy_members_without_losing_its_place() -> None:
    group = members(5)
    busy = {1: "a1", 3: "a3"}
    view = [with_(m, available=m.position not in busy) for m in group]
    rotation = 0  # a0 had the previous call
    ordered = order_members(Strategy.ROUND_ROBIN, view, rotation=rotation)
    assert [m.agent_id for m in ordered] == ["a2", "a4", "a0"]
    rotation = next_rotation(Strategy.ROUND_ROBIN, ordered, rotation)
    assert rotation == 2
    # a3 is back: it is next after a2, before a4.
    ordered = order_members(Strategy.ROUND_ROBIN, group, rotation=rotation)
    assert [m.agent_id for m in ordered][:2] == ["a3", "a4"]


def test_longest_idle_orders_by_last_call_end_never_called_first() -> None:
    group = [
        MemberView("old", 0, last_call_end_ms=1_000),
        MemberView("recent", 1, last_call_end_ms=9_000),
        MemberView("never", 2, last_call_end_ms=0),
        MemberView("middle", 3, last_call_end_ms=5_000),
        MemberView("never2", 4, last_call_end_ms=0),
    ]
    ordered = order_members(Strategy.LONGEST_IDLE, group)
    assert [m.agent_id for m in ordered] == ["never", "never2", "old", "middle", "recent"]


def test_longest_idle_spreads_calls_uniformly() -> None:
    group = members(6)
    taken: Counter[str] = Counter()
    clock = 1_000
    for _ in range(6 * 50):
        clock += 10
        first = order_members(Strategy.LONGEST_IDLE, group, now_ms=clock)[0]
        taken[first.agent_id] += 1
        group = [with_(m, last_call_end_ms=clock) if m is first else m for m in group]
    assert set(taken.values()) == {50}


def test_fewest_calls_balances_uneven_starting_counts() -> None:
    start = [7, 0, 3, 12, 1]
    group = [MemberView(f"a{i}", i, calls_since_reset=c) for i, c in enumerate(start)]
    for _ in range(100):
        first = order_members(Strategy.FEWEST_CALLS, group)[0]
        assert first.calls_since_reset == min(m.calls_since_reset for m in group)
        group = [with_(m, calls_since_reset=m.calls_since_reset + 1) if m is first else m for m in group]
    counts = [m.calls_since_reset for m in group]
    assert max(counts) - min(counts) <= 1
    assert sum(counts) == sum(start) + 100


def test_random_is_uniform_over_available_members() -> None:
    rng = random.Random(1234)
    group = members(5)
    group[4] = with_(group[4], available=False)
    firsts = Counter(order_members(Strategy.RANDOM, group, rng=rng)[0].agent_id for _ in range(8000))
    assert set(firsts) == {"a0", "a1", "a2", "a3"}
    for count in firsts.values():
        assert abs(count / 8000 - 0.25) < 0.03


def test_weighted_random_frequencies_follow_weights() -> None:
    rng = random.Random(99)
    group = [MemberView(f"w{w}", i, weight=w) for i, w in enumerate([1, 2, 3, 4])]
    firsts = Counter(
        order_members(Strategy.WEIGHTED_RANDOM, group, rng=rng)[0].agent_id for _ in range(20000)
    )
    for w in (1, 2, 3, 4):
        assert abs(firsts[f"w{w}"] / 20000 - w / 10) < 0.02


def test_weighted_random_second_place_is_drawn_from_the_rest_by_weight() -> None:
    # Successive sampling: given w4 first, w1..w3 come second with probability w / 6.
    rng = random.Random(5)
    group = [MemberView(f"w{w}", i, weight=w) for i, w in enumerate([1, 2, 3, 4])]
    seconds: Counter[str] = Counter()
    for _ in range(40000):
        ordered = order_members(Strategy.WEIGHTED_RANDOM, group, rng=rng)
        if ordered[0].agent_id == "w4":
            seconds[ordered[1].agent_id] += 1
    total = sum(seconds.values())
    for w in (1, 2, 3):
        assert abs(seconds[f"w{w}"] / total - w / 6) < 0.025


def test_weighted_random_offers_weight_zero_standbys_last_in_config_order() -> None:
    group = [MemberView("s1", 0, weight=0), MemberView("a", 1, weight=1), MemberView("s2", 2, weight=0),
             MemberView("b", 3, weight=5)]
    rng = random.Random(3)
    for _ in range(200):
        ordered = [m.agent_id for m in order_members(Strategy.WEIGHTED_RANDOM, group, rng=rng)]
        assert sorted(ordered[:2]) == ["a", "b"] and ordered[2:] == ["s1", "s2"]
    with pytest.raises(ValueError, match="weight"):
        order_members(Strategy.WEIGHTED_RANDOM, [MemberView("z", 0, weight=-1)], rng=rng)


def test_unknown_strategy_is_an_error() -> None:
    with pytest.raises(ValueError):
        order_members("ring_everyone_twice", members(2))


member_lists = st.lists(
    st.builds(
        lambda avail, lce, calls, w: (avail, lce, calls, w),
        st.booleans(),
        st.integers(0, 50),
        st.integers(0, 5),
        st.integers(1, 5),
    ),
    max_size=12,
)


@given(member_lists, st.sampled_from(list(Strategy)), st.integers(-1, 12), st.integers(0, 2**32))
def test_every_strategy_returns_exactly_the_available_members(rows, strategy, rotation, seed) -> None:
    group = [
        MemberView(f"m{i}", i, weight=w, last_call_end_ms=lce, calls_since_reset=calls, available=avail)
        for i, (avail, lce, calls, w) in enumerate(rows)
    ]
    ordered = order_members(strategy, group, rotation=rotation, rng=random.Random(seed))
    assert sorted(m.agent_id for m in ordered) == sorted(m.agent_id for m in group if m.available)
