"""``GET /metrics`` on a local port, for Prometheus.

A separate listener from the health check on purpose: the health check may be exposed to a load
balancer, the metrics (queue lengths, agent states) stay on loopback unless the operator decides
otherwise. HTTP/1.0, one request per connection, nothing else served: it is the whole surface.
"""

from __future__ import annotations

import logging

from esl_apps.ops.metrics import CONTENT_TYPE, Registry
from esl_apps.ops.tinyhttp import TinyHttpServer

__all__ = ["MetricsServer"]

log = logging.getLogger("esl_apps.ops.metrics")


class MetricsServer(TinyHttpServer):
    def __init__(self, registry: Registry) -> None:
        super().__init__()
        self.registry = registry
        self.scrapes = 0

    async def start(self, host: str = "127.0.0.1", port: int = 9464) -> None:
        await super().start(host, port)

    async def respond(self, method: str, path: str) -> tuple[int, str, bytes]:
        text = "text/plain; charset=utf-8"
        if path != "/metrics":
            return 404, text, b"try GET /metrics\n"
        if method not in ("GET", "HEAD"):
            return 405, text, b"GET or HEAD only\n"
        try:
            await self.registry.collect()
            body = self.registry.exposition().encode()
        except Exception:  # a bug in a collector must not take the process down
            log.exception("metrics: collecting failed")
            return 500, text, b"collecting the metrics failed; see the log\n"
        self.scrapes += 1
        return 200, CONTENT_TYPE, body
