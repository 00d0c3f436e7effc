"""The metrics of ``esl-apps serve``: what an operator watches on a call-centre dashboard.

* ``esl_apps_calls_active`` / ``esl_apps_calls_max``: calls held now, and the limit beyond which
  new calls go to the dialplan fallback.
* ``esl_apps_calls_total{entry,outcome}``: calls finished, by why they came (``did``, ``group``,
  ``feature``, ``wrapup``) and how they ended (the trace's ``end`` for IVR calls: ``bridged``,
  ``voicemail``, ``caller_hangup``...; ``app_error`` when the application failed and the dialplan
  fallback took the call). ``esl_apps_calls_refused_total``: turned away at capacity or while
  stopping (also to the fallback).
* ``esl_apps_agents{state}``: agents of pbx.yaml by state (available, on_call, wrap_up, paused,
  logged_out), read from Redis at scrape time (at most once a second).
* ``esl_apps_queue_length{queue,group}``: callers waiting now (places whose lease is alive).
* ``esl_apps_esl_latency_seconds``: from a message the application awaited (an application's
  CHANNEL_EXECUTE_COMPLETE, a command or api reply) arriving to its next command being written:
  the application's share of every pause a caller hears between two prompts.
* ``esl_apps_gc_sweeps_total``, ``esl_apps_gc_sweep_pause_seconds`` (the last one) and
  ``esl_apps_gc_frozen_objects``: the full garbage collections that pause every call at once
  (esl_apps/esl/heap.py: one every ``esl.gc_sweep_interval`` under load), and what they will scan.
* ``esl_apps_redis_up`` (0 while Redis cannot be read: calls ring everyone, records spool) and
  ``esl_apps_spool_pending`` (1 while records wait on disk for Redis).
"""

from __future__ import annotations

import asyncio
import gc
import time
from typing import TYPE_CHECKING, Any

from esl_apps import __version__
from esl_apps.call import Call, CallHangup
from esl_apps.ops.metrics import Registry

if TYPE_CHECKING:
    from esl_apps.config import Config

__all__ = ["LATENCY_BUCKETS", "MeteredApp", "ServeMetrics"]

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
ENTRIES = frozenset({"did", "group", "feature", "wrapup"})
AGENT_STATES = ("available", "on_call", "wrap_up", "paused", "logged_out")


class ServeMetrics:
    def __init__(
        self, config: Config, *, redis_interval_s: float = 1.0, redis_timeout_s: float = 0.5
    ) -> None:
        self.config = config
        self.registry = r = Registry()
        self.redis_interval_s = redis_interval_s
        self.redis_timeout_s = redis_timeout_s
        r.gauge("esl_apps_build_info", "esl-apps version running", ("version",)).set(1, version=__version__)
        self.active = r.gauge("esl_apps_calls_active", "calls handled by this process now")
        self.max_calls = r.gauge(
            "esl_apps_calls_max", "calls this process takes before the dialplan fallback"
        )
        self.calls = r.counter(
            "esl_apps_calls_total", "calls finished, by entry and outcome", ("entry", "outcome")
        )
        self.refused = r.counter(
            "esl_apps_calls_refused_total", "calls refused at capacity or while stopping (dialplan fallback)"
        )
        self.agents = r.gauge("esl_apps_agents", "agents of pbx.yaml by state (from Redis)", ("state",))
        self.queues = r.gauge(
            "esl_apps_queue_length", "callers waiting in a queue (from Redis)", ("queue", "group")
        )
        self.latency = r.histogram(
            "esl_apps_esl_latency_seconds",
            "awaited ESL message (execute complete, reply) received -> next command sent",
            LATENCY_BUCKETS,
        )
        self.gc_sweeps = r.counter("esl_apps_gc_sweeps_total", "full garbage collections (every call paused)")
        self.gc_pause = r.gauge("esl_apps_gc_sweep_pause_seconds", "how long the last full collection took")
        self.gc_frozen = r.gauge(
            "esl_apps_gc_frozen_objects", "objects kept out of small collections (scanned by the next sweep)"
        )
        self.redis_up = r.gauge("esl_apps_redis_up", "1 when Redis answered the last metrics read")
        self.spool = r.gauge("esl_apps_spool_pending", "1 while records wait in the spool for Redis")
        self._service: Any = None
        self._redis_read_at = -1e9
        r.add_collector(self._collect_process)
        r.add_collector(self._collect_redis)

    # -- wiring ---------------------------------------------------------------------------------
    def wrap(self, app: Any) -> MeteredApp:
        """The call router with ``calls_total`` counted around it."""
        return MeteredApp(app, self)

    def attach(self, service: Any) -> None:
        """Read the running service (``esl_apps.commands.serve.Service``) at scrape time and
        measure ESL latency in its outbound sessions."""
        self._service = service
        if service.server is not None:
            service.server.reaction_observer = self.latency.observe

    # -- collectors -----------------------------------------------------------------------------
    async def _collect_process(self) -> None:
        service = self._service
        server = service.server if service is not None else None
        if server is not None:
            self.active.set(server.active_calls)
            self.max_calls.set(server.max_calls)
            self.refused.set_total(server.refused_calls)
            self.gc_sweeps.set_total(server.heap.sweeps)
            self.gc_pause.set(server.heap.last_sweep_pause_s)
        self.gc_frozen.set(gc.get_freeze_count())
        records = getattr(service, "records", None)
        spool = getattr(records, "spool", None)
        if spool is not None:
            self.spool.set(1 if await asyncio.to_thread(spool.has_pending) else 0)

    async def _collect_redis(self) -> None:
        client = getattr(self._service, "client", None)
        if client is None:
            return
        now = time.monotonic()
        if now - self._redis_read_at < self.redis_interval_s:
            return  # several scrapers, or a tight interval: Redis is read at most once a second
        self._redis_read_at = now
        try:
            agents, queues = await asyncio.wait_for(self._read_redis(client), self.redis_timeout_s)
        except Exception:  # Redis down or slow: say so, and do not show stale states as current
            self.redis_up.set(0)
            self.agents.clear()
            self.queues.clear()
            return
        self.redis_up.set(1)
        self.agents.replace(({"state": state}, count) for state, count in agents.items())
        self.queues.replace(queues)

    async def _read_redis(self, client: Any) -> tuple[dict[str, int], list[tuple[dict[str, str], float]]]:
        from esl_apps.features.agents import AgentStore
        from esl_apps.features.queue_store import QueueKeys

        pbx = self.config.pbx
        prefix = pbx.redis.key_prefix
        counts = dict.fromkeys(AGENT_STATES, 0)
        ids = [agent.id for agent in pbx.agents]
        if ids:
            for state in await AgentStore(client, prefix).list(ids):
                counts[str(state.status)] = counts.get(str(state.status), 0) + 1
        lines = [
            (queue_id, group_id, QueueKeys(prefix, group_id, queue_id))
            for group_id, group in pbx.ring_groups.items()
            if (queue_id := getattr(group, "queue", None))
        ]
        queues: list[tuple[dict[str, str], float]] = []
        if lines:
            async with client.pipeline(transaction=False) as pipe:
                pipe.time()
                for _, _, keys in lines:
                    pipe.zrange(keys.wait, 0, -1)
                    pipe.zrange(keys.live, 0, -1, withscores=True)
                replies = await pipe.execute()
            seconds, micros = replies[0]
            now_ms = int(seconds) * 1000 + int(micros) // 1000
            for i, (queue_id, group_id, _) in enumerate(lines):
                waiting, leases = replies[1 + 2 * i], dict(replies[2 + 2 * i])
                alive = sum(1 for member in waiting if leases.get(member, 0) > now_ms)
                queues.append(({"queue": queue_id, "group": group_id}, alive))
        return counts, queues


class MeteredApp:
    """Counts each call once, when its handler ends, by entry and outcome."""

    def __init__(self, app: Any, metrics: ServeMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def handle(self, call: Call) -> Any:
        entry = call.variables.get("esl_apps_entry") or "did"
        entry = entry if entry in ENTRIES else "other"
        outcome = "app_error"  # an exception: the socket closes and the dialplan fallback runs
        try:
            result = await self.app.handle(call)
            outcome = result if isinstance(result, str) and result else "done"
            return result
        except CallHangup:
            outcome = "caller_hangup"
            raise
        except asyncio.CancelledError:
            outcome = "stopped"  # still active when a stop's grace period ran out
            raise
        finally:
            self.metrics.calls.inc(entry=entry, outcome=outcome)
