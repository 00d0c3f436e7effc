"""What happens after a disposition is stored, per code: do-not-call, callback, QA review, webhook.

Each action is recorded durably first and applied second. The record goes through the RecordLog
(spooled to disk while Redis is down), the direct Redis write is the fast path: when it fails,
the dialers fold the spooled record in once Redis is back (``DncList.sync_from``,
``CallbackStore.ingest``), so a do-not-call code keyed during an outage still blocks the number
before anyone dials it. Nothing here raises into the call: a failure is logged and reported in
the returned outcome.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from redis.exceptions import RedisError

from esl_apps.config.dispositions import Code, Codebook
from esl_apps.features.callback_store import CallbackStore
from esl_apps.features.dispositions_webhook import WebhookSender
from esl_apps.features.dnc import DNC_STREAM, DncList

__all__ = ["QA_STREAM", "FollowupJob", "FollowupOutcome", "Followups", "disposition_request_id"]

log = logging.getLogger(__name__)

QA_STREAM = "qa_review"
_REDIS_DOWN = (RedisError, OSError, asyncio.TimeoutError)
_REQUEST_NS = uuid.UUID("6f1c2a52-7c4e-4d8e-9a51-0b9f5f1e2d10")


def disposition_request_id(call_uuid: str) -> str:
    """One callback request per call's disposition, whoever stores it and however often."""
    return uuid.uuid5(_REQUEST_NS, f"{call_uuid}:disposition").hex


class _Records(Protocol):
    async def append(self, stream: str, record: Mapping[str, Any], **kw: Any) -> str: ...


@dataclass(frozen=True, slots=True)
class FollowupJob:
    call_uuid: str
    codes: tuple[str, ...]
    record: Mapping[str, Any]  # the stored disposition (the webhook's payload)
    agent: str | None = None
    group: str | None = None
    number: str | None = None  # the customer's number (do-not-call, callback)
    callback_at_ms: int | None = None  # when the agent asked for the callback (None: as soon as possible)


@dataclass(frozen=True, slots=True)
class FollowupOutcome:
    dnc_numbers: tuple[str, ...] = ()
    callback_request_id: str | None = None
    qa_review: bool = False
    webhooks: int = 0  # deliveries scheduled (they complete in the background)
    errors: tuple[str, ...] = field(default_factory=tuple)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class Followups:
    def __init__(
        self,
        codebook: Codebook,
        records: _Records,
        *,
        dnc: DncList | None = None,
        callbacks: CallbackStore | None = None,
        webhooks: WebhookSender | None = None,
    ) -> None:
        self.codebook = codebook
        self.records = records
        self.dnc = dnc
        self.callbacks = callbacks
        self.webhooks = webhooks

    async def run(self, job: FollowupJob) -> FollowupOutcome:
        codes = [c for c in (self.codebook.lookup(code) for code in job.codes) if c is not None]
        errors: list[str] = []
        dnc: list[str] = []
        request_id: str | None = None
        qa = False
        actions = {c.action for c in codes}
        if "dnc" in actions and await self._guard(job, errors, "dnc", self._dnc(job, codes)):
            dnc.append(job.number or "")
        if "callback" in actions:
            request_id = await self._guard(job, errors, "callback", self._callback(job, codes))
        if "qa_review" in actions:
            qa = bool(await self._guard(job, errors, "qa_review", self._qa(job, codes)))
        hooks = self._webhooks(job, codes, errors)
        return FollowupOutcome(tuple(n for n in dnc if n), request_id, qa, hooks, tuple(errors))

    @staticmethod
    async def _guard(job: FollowupJob, errors: list[str], what: str, work: Any) -> Any:
        try:
            return await work
        except Exception as exc:
            log.error("call %s: follow-up %s failed: %s", job.call_uuid, what, exc)
            errors.append(f"{what}: {type(exc).__name__}: {exc}")
            return None

    async def _dnc(self, job: FollowupJob, codes: list[Code]) -> bool:
        if not job.number:
            raise ValueError("the customer's number is unknown; nothing to add to the do-not-call list")
        code = next(c.code for c in codes if c.action == "dnc")
        await self.records.append(DNC_STREAM, {
            "action": "add", "number": job.number, "call_uuid": job.call_uuid, "agent": job.agent,
            "group": job.group, "code": code, "at": _now_ms(),
        })
        if self.dnc is not None:
            try:
                await self.dnc.add(job.number)
            except _REDIS_DOWN as exc:
                log.warning("call %s: do-not-call list not updated now (%s); the spooled record will be "
                            "applied when redis is back", job.call_uuid, exc)
        return True

    async def _callback(self, job: FollowupJob, codes: list[Code]) -> str:
        if not job.number:
            raise ValueError("the customer's number is unknown; no callback can be scheduled")
        if not job.group:
            raise ValueError("the call's ring group is unknown; no agents to place the callback")
        request_id = disposition_request_id(job.call_uuid)
        now = _now_ms()
        not_before = job.callback_at_ms or 0
        # A scheduled callback takes its turn at its time, not behind every request older than it.
        arrival = not_before or now
        code = next(c.code for c in codes if c.action == "callback")
        await self.records.append("callbacks", {
            "request_id": request_id, "call_uuid": job.call_uuid, "number": job.number, "group": job.group,
            "event": "requested", "at": now, "attempt": 0, "outcome": None, "source": "disposition",
            "agent": job.agent, "code": code, "arrival_ms": arrival, "not_before_ms": not_before,
        })
        if self.callbacks is not None:
            try:
                await self.callbacks.add(
                    request_id=request_id, number=job.number, group=job.group, arrival_ms=arrival,
                    call_uuid=job.call_uuid, not_before_ms=not_before, source="disposition",
                    agent=job.agent or "",
                )
            except _REDIS_DOWN as exc:
                log.warning("call %s: callback %s not indexed now (%s); the spooled record will be "
                            "folded in by the dialer", job.call_uuid, request_id, exc)
        return request_id

    async def _qa(self, job: FollowupJob, codes: list[Code]) -> bool:
        reasons = [f"{c.code} {c.label}" for c in codes if c.action == "qa_review"]
        await self.records.append(QA_STREAM, {
            "call_uuid": job.call_uuid, "agent": job.agent, "group": job.group, "codes": list(job.codes),
            "reasons": reasons, "at": _now_ms(),
        })
        return True

    def _webhooks(self, job: FollowupJob, codes: list[Code], errors: list[str]) -> int:
        urls = list(dict.fromkeys(c.webhook for c in codes if c.webhook))
        if not urls:
            return 0
        if self.webhooks is None:
            errors.append("webhook: no sender configured")
            return 0
        payload = {
            "event": "disposition",
            **job.record,
            "labels": {c.code: c.label for c in codes},
        }
        scheduled = 0
        for url in urls:
            try:
                if self.webhooks.submit(url, payload) is not None:
                    scheduled += 1
            except Exception as exc:  # a bad payload must not break the call
                log.exception("call %s: webhook not scheduled", job.call_uuid)
                errors.append(f"webhook: {type(exc).__name__}: {exc}")
        return scheduled
