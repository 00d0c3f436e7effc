"""The callback request store: order by original arrival, leases, retries, tombstones, ingest."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import redis.asyncio as aioredis

from esl_apps.features.callback_store import CallbackRequest, CallbackStore
from esl_apps.store.records import RecordLog


def run(redis_url, work):
    async def go():
        client = aioredis.from_url(redis_url)
        try:
            return await work(CallbackStore(client), client)
        finally:
            await client.aclose()

    return asyncio.run(go())


def _now() -> int:
    return time.time_ns() // 1_000_000


def test_claims_follow_the_original_arrival_and_a_retry_keeps_its_place(redis_url):
    async def work(store, _):
        for rid, arrival in (("late", 3000), ("first", 1000), ("second", 2000)):
            await store.add(request_id=rid, number="+447700900001", group="g", arrival_ms=arrival)
        first = await store.claim("g", "w1", 60_000)
        await store.attempt_started("g", first.request_id, "w1", 60_000)
        await store.reschedule("g", first.request_id, "w1", 0, "no_answer")  # retry now
        again = await store.claim("g", "w1", 60_000)
        rest = [await store.claim("g", "w1", 60_000), await store.claim("g", "w1", 60_000)]
        return first, again, rest, await store.claim("g", "w1", 60_000)

    first, again, rest, none = run(redis_url, work)
    assert first.request_id == "first" and again.request_id == "first" and again.attempts == 1
    assert [r.request_id for r in rest] == ["second", "late"] and none is None


def test_a_waiting_retry_is_not_due_until_its_time(redis_url):
    async def work(store, _):
        await store.add(request_id="r", number="+447700900001", group="g", arrival_ms=1)
        req = await store.claim("g", "w1", 60_000)
        await store.reschedule("g", req.request_id, "w1", _now() + 60_000, "busy")
        return await store.counts("g"), await store.claim("g", "w1", 60_000)

    counts, claimed = run(redis_url, work)
    assert counts == (0, 1, 0) and claimed is None


def test_concurrent_claims_never_share_a_request(redis_url):
    async def work(store, client):
        for n in range(200):
            await store.add(request_id=f"r{n}", number="+447700900001", group="g", arrival_ms=n)
        stores = [CallbackStore(client) for _ in range(8)]

        async def claimer(s: CallbackStore, owner: str) -> list[str]:
            got = []
            while (req := await s.claim("g", owner, 60_000)) is not None:
                got.append(req.request_id)
            return got

        return await asyncio.gather(*(claimer(s, f"w{i}") for i, s in enumerate(stores)))

    claims = [rid for batch in run(redis_url, work) for rid in batch]
    assert sorted(claims) == sorted(f"r{n}" for n in range(200))


def test_an_expired_lease_goes_back_to_its_place_and_the_old_owner_cannot_finish(redis_url):
    async def work(store, _):
        await store.add(request_id="a", number="+447700900001", group="g", arrival_ms=1)
        await store.add(request_id="b", number="+447700900002", group="g", arrival_ms=2)
        await store.claim("g", "dead", 100)
        await asyncio.sleep(0.2)
        taken = await store.claim("g", "alive", 60_000)
        stale = await store.finish("g", "a", "dead", "completed", "answered")
        done = await store.finish("g", "a", "alive", "completed", "answered")
        return taken, stale, done, await store.get("g", "a")

    taken, stale, done, final = run(redis_url, work)
    assert taken.request_id == "a" and taken.last_outcome == "lease_expired"
    assert stale == "leased" and done == "leased" and final.status == "completed"


def test_final_requests_are_tombstones_and_a_cancel_wins_over_a_late_finish(redis_url):
    async def work(store, client):
        await store.add(request_id="x", number="+447700900001", group="g", arrival_ms=1)
        req = await store.claim("g", "w", 60_000)
        cancelled = await store.cancel("g", req.request_id)
        finish = await store.finish("g", "x", "w", "completed", "answered")
        readd = await store.add(request_id="x", number="+447700900001", group="g", arrival_ms=1)
        ttl = await client.ttl(store.request_key("g", "x"))
        return cancelled, finish, readd, ttl, await store.open_requests("g")

    cancelled, finish, readd, ttl, open_ = run(redis_url, work)
    assert cancelled == "leased" and finish == "cancelled" and readd is False
    assert ttl > 30 * 86400 and open_ == []


def test_ingest_creates_each_requested_record_once(redis_url, tmp_path):
    async def work(store, client):
        log = RecordLog(client, tmp_path)
        now = _now()
        hour_ago = datetime.fromtimestamp(now / 1000 - 3600, UTC).isoformat()
        for record in (
            {"request_id": "q1", "call_uuid": "c1", "number": "+447700900001", "group": "g",
             "event": "requested", "at": now, "arrival_ms": now - 500},
            {"request_id": "q1", "event": "attempt", "group": "g", "number": "x"},
            # the IVR's own record shape: no request id, an ISO time
            {"event": "callback_requested", "call_uuid": "c2", "number": "+447700900002", "group": "g",
             "requested_at": hour_ago},
            {"request_id": "old", "number": "+447700900003", "group": "g", "event": "requested", "at": 1,
             "arrival_ms": 1},
        ):
            await log.append("callbacks", record)
        stream = log.stream_key("callbacks")
        created = [await store.ingest(stream), await store.ingest(stream)]
        await log.close()
        return created, await store.open_requests("g")

    created, requests = run(redis_url, work)
    assert created == [2, 0]
    assert [(r.request_id, r.call_uuid) for r in requests] == [("c2", "c2"), ("q1", "c1")]
    assert isinstance(requests[0], CallbackRequest)
