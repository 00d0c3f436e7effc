"""Callback requests waiting to be dialled, kept in Redis so any number of dialers can share them.

A request keeps the caller's place: each ring group's callback line is a sorted set scored by the
caller's ORIGINAL arrival time, so a request that was retried or had to wait for a scheduled time
goes back to where it was, ahead of callers who arrived later; and a caller still waiting in one
of the group's queues who arrived before the request is served first.

Every state change is one Lua script, so two dialers can never take one request: ``claim`` moves
the first due request of a group into a *lease* (owner and expiry in Redis time). A dialer that
dies mid-attempt simply stops renewing; the next ``claim`` by anyone finds the expired lease and
puts the request back in its place. A request that reached a final state (completed, failed,
cancelled) is kept as a tombstone for ``final_ttl_s`` so that re-reading the ``requested`` record
after a restart or a replayed spool cannot create it again.

Key layout: the ring-group runtime's (``esl_apps.features.callback_offer``, which writes requests
taken from queues), in the group's hash-tag slot ``G`` = ``<prefix>:{rg:<group>}``, next to the
group's queues: ``G:callbacks`` due requests (zset, score = arrival ms); ``G:cb:<id>`` request hash
(number, call_uuid, group, queue, arrival_ms, queue_position, requested_at, status, attempts, plus
the dialer's not_before_ms, lease_owner, lease_until, last_outcome, source, agent); the dialer's
``G:cb_delayed`` (score = not-before ms) and ``G:cb_leases`` (score = lease expiry ms).
``<prefix>:callbacks:cursor`` is the last ``callbacks`` stream entry folded in by
:meth:`CallbackStore.ingest`.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis.asyncio as aioredis

from esl_apps.features.callback_store_lua import (
    ADD,
    ATTEMPT,
    CANCEL,
    CLAIM,
    DUE,
    FINISH,
    FORWARD_CURSOR,
    RELEASE,
    RESCHEDULE,
)

__all__ = ["FINAL", "CallbackRequest", "CallbackStore", "new_request_id"]

FINAL = frozenset({"completed", "failed", "cancelled"})
DEFAULT_FINAL_TTL_S = 35 * 86400
DEFAULT_MAX_AGE_MS = 30 * 86400 * 1000
_REQUESTED_EVENTS = ("requested", "callback_requested")


def new_request_id() -> str:
    return uuid.uuid4().hex


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(float(_text(value)))
    except (TypeError, ValueError):
        return default


@dataclass(frozen=True, slots=True)
class CallbackRequest:
    request_id: str
    number: str
    group: str
    arrival_ms: int  # the caller's original arrival: the queue position
    call_uuid: str = ""  # the call the request came from
    not_before_ms: int = 0  # 0: as soon as possible
    attempts: int = 0  # customer dial attempts made
    status: str = "pending"  # pending | leased | completed | failed | cancelled
    source: str = ""  # queue | ivr | disposition ...
    agent: str = ""  # the agent who scheduled it (dispositions), if any
    created_ms: int = 0
    lease_owner: str = ""
    lease_until_ms: int = 0
    last_outcome: str = ""

    @classmethod
    def from_fields(cls, request_id: str, fields: Mapping[str, str]) -> CallbackRequest:
        return cls(
            request_id=request_id,
            number=fields.get("number", ""),
            group=fields.get("group", ""),
            arrival_ms=_int(fields.get("arrival_ms")),
            call_uuid=fields.get("call_uuid", ""),
            not_before_ms=_int(fields.get("not_before_ms")),
            attempts=_int(fields.get("attempts")),
            status=fields.get("status", "pending"),
            source=fields.get("source", ""),
            agent=fields.get("agent", ""),
            created_ms=_int(fields.get("created_ms")),
            lease_owner=fields.get("lease_owner", ""),
            lease_until_ms=_int(fields.get("lease_until")),
            last_outcome=fields.get("last_outcome", ""),
        )

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


def _pairs(flat: Sequence[Any]) -> dict[str, str]:
    return {_text(flat[n]): _text(flat[n + 1]) for n in range(0, len(flat) - 1, 2)}


class CallbackStore:
    def __init__(
        self, redis: aioredis.Redis, key_prefix: str = "esl", *, final_ttl_s: int = DEFAULT_FINAL_TTL_S
    ) -> None:
        self.redis = redis
        self.prefix = key_prefix
        self.final_ttl_s = final_ttl_s
        self.cursor_key = f"{key_prefix}:callbacks:cursor"
        self._scripts = {
            name: redis.register_script(src)
            for name, src in (("add", ADD), ("claim", CLAIM), ("due", DUE), ("release", RELEASE),
                              ("attempt", ATTEMPT), ("reschedule", RESCHEDULE), ("finish", FINISH),
                              ("cancel", CANCEL), ("cursor", FORWARD_CURSOR))
        }

    def group_base(self, group: str) -> str:
        return f"{self.prefix}:{{rg:{group}}}"

    def line_key(self, group: str) -> str:
        return f"{self.group_base(group)}:callbacks"

    def request_key(self, group: str, request_id: str) -> str:
        return f"{self.group_base(group)}:cb:{request_id}"

    async def _run(self, name: str, group: str, *args: Any) -> Any:
        return await self._scripts[name](keys=[self.line_key(group)], args=[self.group_base(group), *args])

    # -- creating -------------------------------------------------------------------------------
    async def add(
        self,
        *,
        request_id: str,
        number: str,
        group: str,
        arrival_ms: int,
        call_uuid: str = "",
        not_before_ms: int = 0,
        source: str = "",
        agent: str = "",
        queue: str = "",
    ) -> bool:
        """Store a new request; False when this id is already known (pending or a tombstone)."""
        if not request_id or not number or not group:
            raise ValueError("a callback request needs request_id, number and group")
        now = time.time_ns() // 1_000_000
        fields = {
            "number": number, "call_uuid": call_uuid, "group": group, "queue": queue,
            "arrival_ms": int(arrival_ms), "requested_at": now, "status": "pending", "attempts": 0,
            "not_before_ms": int(not_before_ms), "source": source, "agent": agent,
        }
        flat: list[Any] = [x for item in fields.items() for x in item]
        return bool(await self._run("add", group, request_id, int(arrival_ms), int(not_before_ms), *flat))

    # -- dialling -------------------------------------------------------------------------------
    async def counts(self, group: str) -> tuple[int, int, int]:
        """(due now, waiting for their time, leased) for a group; due delayed requests and expired
        leases are moved back into the line first."""
        due, waiting, leased = await self._run("due", group)
        return int(due), int(waiting), int(leased)

    async def claim(
        self, group: str, owner: str, lease_ms: int, queues: Sequence[str] = ()
    ) -> CallbackRequest | int | None:
        """Lease the group's first due request (earliest original arrival) to ``owner``.

        None: nothing due. An int: the arrival (ms) of a caller still waiting in one of ``queues``
        (the group's queues) who came before the first request and must be served first.
        """
        reply = await self._run("claim", group, owner, int(lease_ms), *queues)
        if not reply:
            return None
        if _text(reply[0]) == "ahead":
            return _int(reply[1])
        return CallbackRequest.from_fields(_text(reply[1]), _pairs(reply[2:]))

    async def release(self, group: str, request_id: str, owner: str, outcome: str = "") -> bool:
        """Give a leased request back untouched (no agent could take it): it keeps its place."""
        return bool(await self._run("release", group, request_id, owner, outcome))

    async def attempt_started(self, group: str, request_id: str, owner: str, lease_ms: int) -> int | None:
        """Count a customer dial and extend the lease; the attempt number, or None when the lease is
        no longer ours (expired and taken, or the request was cancelled)."""
        reply = await self._run("attempt", group, request_id, owner, int(lease_ms))
        return None if reply is None else int(reply)

    async def reschedule(
        self, group: str, request_id: str, owner: str, not_before_ms: int, outcome: str
    ) -> bool:
        """Retry later; until then the request waits, then gets its original place back."""
        return bool(await self._run("reschedule", group, request_id, owner, int(not_before_ms), outcome))

    async def finish(self, group: str, request_id: str, owner: str, status: str, outcome: str) -> str | None:
        """Final state; returns the status it had (``cancelled`` when an admin was faster)."""
        if status not in FINAL:
            raise ValueError(f"not a final status: {status!r}")
        reply = await self._run("finish", group, request_id, owner, status, outcome, self.final_ttl_s)
        return None if reply is None else _text(reply)

    async def cancel(self, group: str, request_id: str) -> str | None:
        """Cancel; returns the previous status (None: unknown id). Final requests stay as they are."""
        reply = await self._run("cancel", group, request_id, self.final_ttl_s)
        return None if reply is None else _text(reply)

    # -- reading --------------------------------------------------------------------------------
    async def get(self, group: str, request_id: str) -> CallbackRequest | None:
        fields = await self.redis.hgetall(self.request_key(group, request_id))
        if not fields:
            return None
        return CallbackRequest.from_fields(request_id, {_text(k): _text(v) for k, v in fields.items()})

    async def find(self, request_id: str, groups: Iterable[str]) -> CallbackRequest | None:
        """The request with this id in whichever of ``groups`` holds it."""
        for group in groups:
            found = await self.get(group, request_id)
            if found is not None:
                return found
        return None

    async def open_requests(self, group: str) -> list[CallbackRequest]:
        """The group's requests not in a final state (due, waiting or leased), in dialling order."""
        base = self.group_base(group)
        ids: list[str] = []
        for key in (f"{base}:callbacks", f"{base}:cb_delayed", f"{base}:cb_leases"):
            ids += [_text(i) for i in await self.redis.zrange(key, 0, -1)]
        ids = list(dict.fromkeys(ids))
        async with self.redis.pipeline(transaction=False) as pipe:
            for request_id in ids:
                pipe.hgetall(self.request_key(group, request_id))
            replies = await pipe.execute()
        found = [
            CallbackRequest.from_fields(i, {_text(k): _text(v) for k, v in r.items()})
            for i, r in zip(ids, replies, strict=True) if r
        ]
        found = [r for r in found if r.status not in FINAL]
        return sorted(found, key=lambda r: (r.arrival_ms, r.request_id))

    # -- folding the record stream in -----------------------------------------------------------
    async def ingest(
        self, stream_key: str, *, max_age_ms: int = DEFAULT_MAX_AGE_MS, batch: int = 500
    ) -> int:
        """Create the requests announced by ``requested`` records of the ``callbacks`` stream.

        Whoever takes a callback request (queue, IVR, a disposition) appends that record through
        the RecordLog, which spools it while Redis is down; folding the stream in here means such a
        request reaches the dialers once Redis is back. Returns how many requests were new.
        """
        cursor = await self.redis.get(self.cursor_key)
        lower = "(" + _text(cursor) if cursor else "-"
        now_ms = time.time_ns() // 1_000_000
        created = 0
        while True:
            entries = await self.redis.xrange(stream_key, min=lower, max="+", count=batch)
            if not entries:
                return created
            for entry_id, fields in entries:
                data = {_text(k): _text(v) for k, v in fields.items()}
                request = _request_of(data, _int(_text(entry_id).split("-")[0]))
                if request is None or now_ms - request["arrival_ms"] > max_age_ms:
                    continue
                created += await self.add(**request)
            last = _text(entries[-1][0])
            await self._scripts["cursor"](keys=[self.cursor_key], args=[last])
            lower = "(" + last


def _request_of(fields: Mapping[str, str], entry_ms: int) -> dict[str, Any] | None:
    """A ``requested`` record (RECORDS.md, or the IVR's ``callback_requested``) -> ``add`` kwargs."""
    try:
        record = json.loads(fields.get("data") or "")
    except ValueError:
        return None
    if not isinstance(record, dict) or record.get("event") not in _REQUESTED_EVENTS:
        return None
    number, group = record.get("number"), record.get("group")
    request_id = record.get("request_id") or record.get("call_uuid")
    if not number or not group or not request_id:
        return None
    at = _int(record.get("at"), 0) or _iso_ms(record.get("requested_at")) or _int(fields.get("ts"), entry_ms)
    arrival = _int(record.get("arrival_ms"), 0) or _int(record.get("offered_at"), 0) or at
    return {
        "request_id": str(request_id), "number": str(number), "group": str(group), "arrival_ms": arrival,
        "call_uuid": str(record.get("call_uuid") or ""),
        "not_before_ms": _int(record.get("not_before_ms"), 0),
        "source": str(record.get("source") or ""), "agent": str(record.get("agent") or ""),
        "queue": str(record.get("queue") or ""),
    }


def _iso_ms(value: Any) -> int:
    if not isinstance(value, str):
        return 0
    try:
        return int(datetime.fromisoformat(value).timestamp() * 1000)
    except ValueError:
        return 0
