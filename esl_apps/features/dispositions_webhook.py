"""Disposition webhooks: POST the disposition as JSON to a CRM, without ever delaying a call.

``submit`` only schedules the delivery and returns at once; the POST runs in a small private
thread pool (urllib blocks), so a slow or dead endpoint can neither hold the agent's wrap-up
leg nor starve the event loop's default executor (which the record spool needs). Each delivery
is retried with exponential backoff up to ``max_attempts``; the final result (delivered or
failed, with the last error) is appended to the ``webhooks`` record stream. Deliveries beyond
``max_pending`` are refused and recorded as failed rather than queued without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

__all__ = ["WEBHOOK_STREAM", "WebhookResult", "WebhookSender"]

log = logging.getLogger(__name__)

WEBHOOK_STREAM = "webhooks"


class _Records(Protocol):
    async def append(self, stream: str, record: Mapping[str, Any], **kw: Any) -> str: ...


@dataclass(frozen=True, slots=True)
class WebhookResult:
    url: str
    delivered: bool
    attempts: int
    status: int | None = None  # the last HTTP status seen
    error: str | None = None


def _redacted(url: str) -> str:
    """The URL as logged and recorded: without credentials, query or fragment (tokens live there)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


class WebhookSender:
    def __init__(
        self,
        records: _Records | None = None,
        *,
        max_attempts: int = 5,
        backoff_initial_s: float = 1.0,
        backoff_max_s: float = 60.0,
        timeout_s: float = 5.0,
        workers: int = 4,
        max_pending: int = 1000,
        user_agent: str = "esl-apps-dispositions/1",
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.records = records
        self.max_attempts = max_attempts
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.timeout_s = timeout_s
        self.max_pending = max_pending
        self.user_agent = user_agent
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="webhook")
        self._tasks: set[asyncio.Task[WebhookResult]] = set()
        self._rng = random.Random()

    @property
    def pending(self) -> int:
        return len(self._tasks)

    def submit(self, url: str, payload: Mapping[str, Any]) -> asyncio.Task[WebhookResult] | None:
        """Schedule the POST; returns its task (None when too many deliveries are pending)."""
        body = json.dumps(dict(payload), separators=(",", ":"), default=str).encode()
        if len(self._tasks) >= self.max_pending:
            log.error("webhook %s dropped: %d deliveries already pending", _redacted(url), len(self._tasks))
            result = WebhookResult(url, False, 0, error="too many pending deliveries")
            task = asyncio.get_running_loop().create_task(self._record(result, payload))
            self._tasks.add(task)  # type: ignore[arg-type]
            task.add_done_callback(self._tasks.discard)  # type: ignore[arg-type]
            return None
        task = asyncio.get_running_loop().create_task(self._deliver(url, body, payload), name="webhook")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _deliver(self, url: str, body: bytes, payload: Mapping[str, Any]) -> WebhookResult:
        loop = asyncio.get_running_loop()
        delay = self.backoff_initial_s
        status: int | None = None
        error: str | None = None
        attempt = 0
        for attempt in range(1, self.max_attempts + 1):
            try:
                status = await loop.run_in_executor(self._pool, self._post, url, body)
            except urllib.error.HTTPError as exc:
                status, error = exc.code, f"HTTP {exc.code}"
            except (urllib.error.URLError, OSError, TimeoutError) as exc:
                status, error = None, type(exc).__name__ + ": " + str(getattr(exc, "reason", exc))
            else:
                result = WebhookResult(url, True, attempt, status)
                await self._record(result, payload)
                return result
            if status is not None and 400 <= status < 500 and status not in (408, 429):
                break  # the endpoint refuses this request: sending it again will not help
            if attempt < self.max_attempts:
                log.info("webhook %s attempt %d failed (%s); retry in %.1fs",
                         _redacted(url), attempt, error, delay)
                await asyncio.sleep(delay * (0.8 + 0.4 * self._rng.random()))
                delay = min(delay * 2, self.backoff_max_s)
        result = WebhookResult(url, False, attempt, status, error)
        log.error("webhook %s failed after %d attempt(s): %s", _redacted(url), attempt, error)
        await self._record(result, payload)
        return result

    def _post(self, url: str, body: bytes) -> int:
        request = urllib.request.Request(
            url, data=body, method="POST",
            headers={"Content-Type": "application/json", "User-Agent": self.user_agent},
        )
        with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
            response.read(65536)
            return int(response.status)

    async def _record(self, result: WebhookResult, payload: Mapping[str, Any]) -> None:
        if self.records is None:
            return
        try:
            await self.records.append(WEBHOOK_STREAM, {
                "url": _redacted(result.url),
                "call_uuid": payload.get("call_uuid"),
                "event": "delivered" if result.delivered else "failed",
                "attempts": result.attempts,
                "status": result.status,
                "error": result.error,
                "at": time.time_ns() // 1_000_000,
            })
        except Exception:  # recording the result must never break anything
            log.exception("webhook result not recorded")

    async def close(self, timeout_s: float = 10.0) -> None:
        """Wait up to ``timeout_s`` for pending deliveries, cancel the rest, stop the threads."""
        if self._tasks:
            _done, still = await asyncio.wait(set(self._tasks), timeout=timeout_s)
            for task in still:
                task.cancel()
            for task in still:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._pool.shutdown(wait=False, cancel_futures=True)
