"""The call a log line belongs to, carried by a context variable.

An operator follows one call with ``jq 'select(.call_uuid=="...")'``; that only works if every
line written while the call is handled carries its UUID, including lines from code that knows
nothing about calls (Redis, the spool, the ring-group runtime). Passing the UUID down every call
chain is not possible, so it lives in a :class:`contextvars.ContextVar`: set once when the call's
handler starts, it is seen by everything the handler awaits and by every task it creates, and the
outbound session runs its socket callbacks in the same context (``OutboundSession._context``).
"""

from __future__ import annotations

import contextvars
import logging

__all__ = ["CALL_UUID", "CallContextFilter", "bind_call", "current_call"]

CALL_UUID: contextvars.ContextVar[str | None] = contextvars.ContextVar("esl_apps_call_uuid", default=None)


def bind_call(call_uuid: str) -> None:
    """Tag the rest of the current task (and what it starts) with ``call_uuid``."""
    CALL_UUID.set(call_uuid or None)


def current_call() -> str | None:
    return CALL_UUID.get()


class CallContextFilter(logging.Filter):
    """Handler filter: adds ``record.call_uuid`` from the context unless the line already names one
    (an engine step or a disposition may name another leg on purpose). Never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "call_uuid", None) is None:
            call_uuid = CALL_UUID.get()
            if call_uuid is not None:
                record.call_uuid = call_uuid
        return True
