"""Append-only records (call traces, consent decisions, dispositions) that survive a Redis outage.

A call must never wait for, or fail because of, Redis: ``append`` writes to a Redis stream when it
can and to a private, fsynced spool file when it cannot, and a background task moves spooled
records into Redis once it is back. Each record carries a unique ``rid``; the same Lua script
serves normal appends and replays and writes a rid only once, so a record is stored exactly once
even when a reply was lost or a replay was interrupted and rerun.

Ordering: once a record has been spooled, later appends from this process are spooled too until
the replay has drained the spool, so records (and the latest document under a ``doc_key``) reach
Redis in the order they were appended.

Key layout (``prefix`` defaults to ``esl``): stream ``<prefix>:stream:<stream>`` with fields
``rid``, ``ts`` (append time, ms) and ``data`` (the record as JSON); document ``<prefix>:<doc_key>``
(the latest record as JSON); rid marker ``<prefix>:rid:<rid>`` (expires after ``rid_ttl_s``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from esl_apps.store.scripts import register
from esl_apps.store.spool import Spool, SpooledRecord

log = logging.getLogger(__name__)

# Errors that mean "Redis could not take the record now": spool it instead of failing the call.
_UNAVAILABLE: tuple[type[BaseException], ...] = (RedisError, OSError, asyncio.TimeoutError)

DEFAULT_RID_TTL_S = 7 * 24 * 3600  # how long a rid is remembered; a spool older than this may duplicate
DEFAULT_REPLAY_LAG_MS = 24 * 3600 * 1000
_CLOCK_SKEW_MS = 60_000
_REPLAY_BATCH = 200


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _encode(record: Mapping[str, Any]) -> str:
    """Encode now, so a bad value fails in the caller's code (a bug), not later in the replayer."""
    return json.dumps(dict(record), separators=(",", ":"), ensure_ascii=False)


def _decoded(data: str, rid: str, ts_ms: int) -> dict[str, Any]:
    out = json.loads(data)
    out["_rid"] = rid
    out["_ts_ms"] = ts_ms
    return out


class RecordLog:
    """Records in Redis streams, spooled to ``spool_dir`` whenever Redis cannot take them."""

    def __init__(
        self,
        redis: aioredis.Redis | None,
        spool_dir: Path,
        key_prefix: str = "esl",
        *,
        rid_ttl_s: int = DEFAULT_RID_TTL_S,
        auto_replay: bool = True,
    ) -> None:
        self.redis = redis
        self.key_prefix = key_prefix
        self.rid_ttl_s = rid_ttl_s
        self.spool = Spool(Path(spool_dir))
        self.spool.tighten()  # created on the first spooled record, not here: readers need no spool
        self._auto_replay = auto_replay
        self._script = register(redis, "append_record") if redis is not None else None
        # Spool-first until a replay has drained what an earlier run left behind.
        self._spooling = self.spool.has_pending()
        self._spool_lock = asyncio.Lock()
        self._replay_lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._replayer: asyncio.Task[None] | None = None
        self._closed = False

    # -- keys -----------------------------------------------------------------------------------
    def stream_key(self, stream: str) -> str:
        return f"{self.key_prefix}:stream:{stream}"

    def doc_key(self, doc_key: str) -> str:
        return f"{self.key_prefix}:{doc_key}"

    def _rid_key(self, rid: str) -> str:
        return f"{self.key_prefix}:rid:{rid}"

    # -- writing --------------------------------------------------------------------------------
    async def append(
        self,
        stream: str,
        record: Mapping[str, Any],
        *,
        doc_key: str | None = None,
        ttl_s: int | None = None,
        maxlen: int | None = None,
    ) -> str:
        """Store ``record``; returns its rid. Never raises because Redis is down (it spools)."""
        item = SpooledRecord(
            rid=uuid.uuid4().hex,
            stream=stream,
            data=_encode(record),
            ts_ms=_now_ms(),
            doc_key=doc_key,
            ttl_s=ttl_s,
            maxlen=maxlen,
        )
        if self._script is not None and not self._spooling:
            try:
                await self._write(item)
                return item.rid
            except _UNAVAILABLE as exc:
                log.warning("redis unavailable (%s); spooling records to %s", type(exc).__name__,
                            self.spool.directory)
        await self._to_spool(item)
        return item.rid

    async def _write(self, item: SpooledRecord, client: Any = None) -> Any:
        assert self._script is not None
        keys = [self._rid_key(item.rid), self.stream_key(item.stream)]
        if item.doc_key is not None:
            keys.append(self.doc_key(item.doc_key))
        args = [item.rid, item.data, item.ts_ms, self.rid_ttl_s, item.maxlen or 0, item.ttl_s or 0]
        return await self._script(keys=keys, args=args, client=client)

    async def _to_spool(self, item: SpooledRecord) -> None:
        async with self._spool_lock:
            self._spooling = True
            await asyncio.to_thread(self.spool.write, item)
        self._wake.set()
        if self._auto_replay and self.redis is not None and self._replayer is None and not self._closed:
            self.start_replayer()

    # -- replay ---------------------------------------------------------------------------------
    async def replay(self, max_records: int | None = None) -> int:
        """Move spooled records into Redis; returns how many were newly stored.

        Records already in Redis (same rid) are skipped, so an interrupted replay can simply be
        run again. Stops early (keeping the rest on disk) on a Redis error or after ``max_records``.
        """
        if self._script is None or self.redis is None:
            return 0
        stored = 0
        attempted = 0
        async with self._replay_lock:
            while True:
                files = await asyncio.to_thread(self.spool.claim)
                if not files:
                    break
                for path in files:
                    records = await asyncio.to_thread(self.spool.read_claimed, path)
                    done = 0
                    try:
                        while done < len(records):
                            if max_records is not None and attempted >= max_records:
                                break
                            size = _REPLAY_BATCH
                            if max_records is not None:
                                size = min(size, max_records - attempted)
                            batch = records[done : done + size]
                            stored += await self._write_batch(batch)
                            done += len(batch)
                            attempted += len(batch)
                    finally:
                        # Also on cancellation or a Redis error: shrink the file to what is left.
                        await asyncio.shield(asyncio.to_thread(self.spool.finish, path, records[done:]))
                    if done < len(records):
                        return stored
                if max_records is not None and attempted >= max_records:
                    return stored
            async with self._spool_lock:
                if not self.spool.active.exists():
                    self._spooling = False
        if stored:
            log.info("replayed %d spooled record(s) into redis", stored)
        return stored

    async def _write_batch(self, batch: list[SpooledRecord]) -> int:
        assert self.redis is not None
        async with self.redis.pipeline(transaction=False) as pipe:
            for item in batch:
                await self._write(item, client=pipe)
            results = await pipe.execute()
        return sum(1 for r in results if int(r) == 1)

    def start_replayer(self, interval_s: float = 1.0, max_backoff_s: float = 30.0) -> asyncio.Task[None]:
        """Start (once) the task that replays the spool whenever there is something in it."""
        if self._replayer is None or self._replayer.done():
            if self.spool.has_pending():
                self._wake.set()
            self._replayer = asyncio.get_running_loop().create_task(
                self._replay_loop(interval_s, max_backoff_s), name="record-log-replayer"
            )
        return self._replayer

    async def _replay_loop(self, interval_s: float, max_backoff_s: float) -> None:
        delay = interval_s
        while not self._closed:
            # Sleep until something is spooled: no polling while Redis is healthy.
            await self._wake.wait()
            self._wake.clear()
            while not self._closed and self.spool.has_pending():
                await asyncio.sleep(delay)
                try:
                    await self.replay()
                except _UNAVAILABLE as exc:
                    log.debug("replay deferred: %s", exc)
                delay = min(delay * 2, max_backoff_s) if self.spool.has_pending() else interval_s

    async def close(self) -> None:
        """Stop the replayer; spooled records stay on disk for the next start."""
        self._closed = True
        if self._replayer is not None:
            self._replayer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._replayer
            self._replayer = None

    # -- reading --------------------------------------------------------------------------------
    async def read(
        self,
        stream: str,
        since_ms: int | None = None,
        until_ms: int | None = None,
        *,
        replay_lag_ms: int | None = DEFAULT_REPLAY_LAG_MS,
    ) -> AsyncIterator[dict[str, Any]]:
        """Records appended in [since_ms, until_ms] (by append time), each with ``_rid`` and ``_ts_ms``.

        A replayed record sits in the stream at its replay time; the scan reaches ``replay_lag_ms``
        past ``until_ms`` to find those (None scans to the end of the stream).
        """
        if self.redis is None:
            return
        lo = "-" if since_ms is None else str(max(0, since_ms - _CLOCK_SKEW_MS))
        hi = "+" if until_ms is None or replay_lag_ms is None else str(until_ms + replay_lag_ms)
        key = self.stream_key(stream)
        while True:
            entries = await self.redis.xrange(key, min=lo, max=hi, count=500)
            if not entries:
                return
            for entry_id, fields in entries:
                f = {_text(k): _text(v) for k, v in fields.items()}
                ts = int(f.get("ts", _text(entry_id).split("-")[0]))
                if (since_ms is None or ts >= since_ms) and (until_ms is None or ts <= until_ms):
                    yield _decoded(f["data"], f.get("rid", ""), ts)
            lo = "(" + _text(entries[-1][0])

    async def get_doc(self, doc_key: str) -> dict[str, Any] | None:
        """The latest record stored under ``doc_key`` (None if absent, expired or Redis is down)."""
        if self.redis is None:
            return None
        try:
            raw = await self.redis.get(self.doc_key(doc_key))
        except _UNAVAILABLE:
            return None
        return None if raw is None else json.loads(raw)


class MemoryRecordLog:
    """The same API kept in memory, for ``esl-apps simulate`` and tests that run without Redis."""

    def __init__(self, key_prefix: str = "esl") -> None:
        self.key_prefix = key_prefix
        self.streams: dict[str, list[tuple[int, str, str]]] = {}
        self.docs: dict[str, tuple[str, float | None]] = {}

    async def append(
        self,
        stream: str,
        record: Mapping[str, Any],
        *,
        doc_key: str | None = None,
        ttl_s: int | None = None,
        maxlen: int | None = None,
    ) -> str:
        rid = uuid.uuid4().hex
        data = _encode(record)
        entries = self.streams.setdefault(stream, [])
        entries.append((_now_ms(), rid, data))
        if maxlen is not None and len(entries) > maxlen:
            del entries[: len(entries) - maxlen]
        if doc_key is not None:
            expires = time.monotonic() + ttl_s if ttl_s else None
            self.docs[doc_key] = (data, expires)
        return rid

    async def replay(self, max_records: int | None = None) -> int:
        return 0

    def start_replayer(self, interval_s: float = 1.0, max_backoff_s: float = 30.0) -> None:
        return None

    async def close(self) -> None:
        return None

    async def read(
        self,
        stream: str,
        since_ms: int | None = None,
        until_ms: int | None = None,
        *,
        replay_lag_ms: int | None = DEFAULT_REPLAY_LAG_MS,
    ) -> AsyncIterator[dict[str, Any]]:
        for ts, rid, data in list(self.streams.get(stream, [])):
            if (since_ms is None or ts >= since_ms) and (until_ms is None or ts <= until_ms):
                yield _decoded(data, rid, ts)

    async def get_doc(self, doc_key: str) -> dict[str, Any] | None:
        item = self.docs.get(doc_key)
        if item is None:
            return None
        data, expires = item
        if expires is not None and time.monotonic() >= expires:
            del self.docs[doc_key]
            return None
        return json.loads(data)
