"""Wiring shared by ``esl-apps serve`` and ``esl-apps simulate``: the flow engine behind the
outbound ESL server, structured logs and the health endpoint.

This is the only place where the (switch-agnostic) engine meets the FreeSWITCH transport: the
engine itself never imports ``esl_apps.esl``.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TextIO

from esl_apps.esl.fscall import FreeSwitchCall
from esl_apps.esl.outbound import OutboundSession
from esl_apps.ops.logcontext import CallContextFilter, bind_call
from esl_apps.ops.tinyhttp import TinyHttpServer

__all__ = ["HealthServer", "JsonFormatter", "call_handler", "parse_host_port", "setup_logging"]

_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "structured"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, plus the structured fields an
    engine step carries and the ``call_uuid`` of the call being handled (added by
    ``CallContextFilter``), so ``jq 'select(.call_uuid=="...")'`` follows one call."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        structured = getattr(record, "structured", None)
        if isinstance(structured, Mapping):
            data.update(structured)
        else:
            data["msg"] = record.getMessage()
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                data.setdefault(key, value)
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str, separators=(",", ":"))


def setup_logging(level: str = "INFO", *, json_lines: bool = True, stream: TextIO | None = None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(CallContextFilter())
    handler.setFormatter(
        JsonFormatter() if json_lines else logging.Formatter("%(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())


def parse_host_port(value: str, default_host: str = "127.0.0.1") -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep:
        host, port = default_host, value
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"expected HOST:PORT or PORT, got {value!r}")
    return host.strip("[]") or default_host, int(port)


def call_handler(app: Any) -> Callable[[OutboundSession], Awaitable[None]]:
    """One call per outbound connection, served by ``app`` (a ``CallRouter``, or a ``FlowEngine``
    for flows only). An exception escaping here makes the transport close the socket without
    hanging up, so FreeSWITCH runs the dialplan fallback after ``socket``."""
    serve = app.handle if hasattr(app, "handle") else app.run

    async def handle(session: OutboundSession) -> None:
        bind_call(session.uuid)  # every log line from here on names the call (esl_apps.ops.logcontext)
        await serve(FreeSwitchCall(session))

    return handle


class HealthServer(TinyHttpServer):
    """``GET /health`` -> 200 with a JSON status while serving, 503 while stopping (so a load
    balancer or systemd watchdog stops sending calls before the sockets close)."""

    def __init__(self, status: Callable[[], Awaitable[Mapping[str, Any]]]) -> None:
        super().__init__()
        self.status = status
        self.stopping = False

    async def respond(self, method: str, path: str) -> tuple[int, str, bytes]:
        if method not in ("GET", "HEAD") or path != "/health":
            code, body = 404, {"status": "not found", "try": "GET /health"}
        else:
            body = dict(await self.status())
            code = 503 if self.stopping else 200
            body["status"] = "stopping" if self.stopping else body.get("status", "ok")
        return code, "application/json", json.dumps(body).encode()
