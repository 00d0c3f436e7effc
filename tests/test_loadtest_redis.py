"""The application's view in a load-test summary: Redis stream lengths, on a real Redis."""

from __future__ import annotations

import redis

from esl_apps.qa.redis_view import StreamCounts, deltas, stream_lengths


def test_counts_streams_and_treats_missing_or_foreign_keys_as_empty(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    for _ in range(3):
        client.xadd("esl:stream:consent", {"rid": "r", "data": "{}"})
    client.xadd("esl:stream:calls", {"rid": "r", "data": "{}"})
    client.set("esl:stream:dispositions", "not a stream")
    counts = stream_lengths(redis_url)
    assert counts == StreamCounts({"calls": 1, "consent": 3, "dispositions": 0, "callbacks": 0})
    assert stream_lengths(redis_url, prefix="other").lengths == {
        "calls": 0, "consent": 0, "dispositions": 0, "callbacks": 0}


def test_run_delta(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    client.xadd("esl:stream:calls", {"rid": "old"})
    before = stream_lengths(redis_url)
    for _ in range(5):
        client.xadd("esl:stream:calls", {"rid": "new"})
    client.xadd("esl:stream:callbacks", {"rid": "new"})
    change = deltas(before, stream_lengths(redis_url))
    assert change == {"calls": 5, "consent": 0, "dispositions": 0, "callbacks": 1}


def test_unreachable_redis_is_reported_not_raised() -> None:
    counts = stream_lengths("redis://127.0.0.1:1/0", timeout_s=0.5)
    assert counts.error and counts.lengths == {}
    assert deltas(counts, counts) is None
