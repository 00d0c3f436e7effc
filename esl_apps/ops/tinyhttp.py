"""The smallest HTTP/1.0 server the health check and the metrics endpoint need.

One request per connection, request headers ignored, GET and HEAD only: that is the whole attack
surface. Subclasses answer ``respond(method, path)``; this class does sockets, timeouts and framing.
"""

from __future__ import annotations

import asyncio
import contextlib

__all__ = ["TinyHttpServer"]

_REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 500: "Internal Server Error",
            503: "Service Unavailable"}


class TinyHttpServer:
    def __init__(self) -> None:
        self.host = ""
        self.port = 0
        self._server: asyncio.Server | None = None

    async def respond(self, method: str, path: str) -> tuple[int, str, bytes]:
        """(status code, content type, body) for one request; the path has no query string."""
        raise NotImplementedError

    async def start(self, host: str, port: int) -> None:
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
            code, content_type, body = await self.respond(method, path)
            head = (
                f"HTTP/1.0 {code} {_REASONS.get(code, 'Error')}\r\nContent-Type: {content_type}\r\n"
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
