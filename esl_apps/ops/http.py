"""``GET /metrics`` on a local port, for Prometheus.

A separate listener from the health check on purpose: the health check may be exposed to a load
balancer, the metrics (queue lengths, agent states) stay on loopback unless the operator decides
otherwise. HTTP/1.0, one request per connection, nothing else served: it is the whole surface.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from esl_apps.ops.metrics import CONTENT_TYPE, Registry

__all__ = ["MetricsServer"]

log = logging.getLogger("esl_apps.ops.metrics")
_REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 500: "Internal Server Error"}


class MetricsServer:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.host = ""
        self.port = 0
        self.scrapes = 0
        self._server: asyncio.Server | None = None

    async def start(self, host: str = "127.0.0.1", port: int = 9464) -> None:
        self._server = await asyncio.start_server(self._handle, host, port)
        self.host, self.port = self._server.sockets[0].getsockname()[:2]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), 5)
            while await asyncio.wait_for(reader.readline(), 5) not in (b"\r\n", b"\n", b""):
                pass  # request headers are not needed
            parts = request.decode("latin-1").split()
            method = parts[0] if parts else ""
            path = parts[1].split("?")[0] if len(parts) > 1 else ""
            content_type = "text/plain; charset=utf-8"
            if path != "/metrics":
                code, body = 404, b"try GET /metrics\n"
            elif method not in ("GET", "HEAD"):
                code, body = 405, b"GET or HEAD only\n"
            else:
                try:
                    await self.registry.collect()
                    code, body = 200, self.registry.exposition().encode()
                    content_type = CONTENT_TYPE
                    self.scrapes += 1
                except Exception:  # a bug in a collector must not take the process down
                    log.exception("metrics: collecting failed")
                    code, body = 500, b"collecting the metrics failed; see the log\n"
            head = (
                f"HTTP/1.0 {code} {_REASONS[code]}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            ).encode()
            writer.write(head + (body if method != "HEAD" else b""))
            await writer.drain()
        except (TimeoutError, ConnectionError, UnicodeDecodeError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
