"""The application's own numbers during a load test, read from the Redis streams it writes.

SIPp only knows SIP: whether a call was answered and hung up cleanly. Whether the application
stored a consent decision, a disposition or a callback request for each call is in Redis, in the
record streams ``<prefix>:stream:<name>`` (esl_apps.store.records). Lengths are read before and
after the run; the difference is what this run produced. A missing stream counts as 0, and an
unreachable Redis is reported, never fatal: the SIP results still stand.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

STREAMS: Mapping[str, str] = {
    "calls": "call traces",
    "consent": "consent records",
    "dispositions": "dispositions stored",
    "callbacks": "callback requests",
}


@dataclass(frozen=True)
class StreamCounts:
    lengths: Mapping[str, int] = field(default_factory=dict)
    error: str | None = None


def stream_lengths(url: str, prefix: str = "esl", streams: Mapping[str, str] = STREAMS,
                   timeout_s: float = 3.0) -> StreamCounts:
    import redis

    try:
        client = redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
        try:
            pipe = client.pipeline(transaction=False)
            for name in streams:
                pipe.xlen(f"{prefix}:stream:{name}")
            values = pipe.execute(raise_on_error=False)
        finally:
            client.close()
    except (redis.RedisError, OSError) as exc:
        return StreamCounts(error=f"{type(exc).__name__}: {exc}")
    lengths = {}
    for name, value in zip(streams, values, strict=True):
        # WRONGTYPE (the key holds something else) reads as "no stream"; nothing else is expected.
        lengths[name] = value if isinstance(value, int) else 0
    return StreamCounts(lengths)


def deltas(before: StreamCounts | None, after: StreamCounts | None) -> dict[str, int] | None:
    if before is None or after is None or before.error or after.error:
        return None
    return {name: after.lengths.get(name, 0) - before.lengths.get(name, 0) for name in after.lengths}
