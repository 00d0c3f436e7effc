"""asyncio helpers shared by the ESL transport and the call features (neither depends on the other)."""

from __future__ import annotations

import asyncio

__all__ = ["mark_retrieved"]


def mark_retrieved(fut: asyncio.Future[object]) -> None:
    """Done-callback for a future or task whose outcome nobody may await (a pipelined reply, an
    abandoned command, a fire-and-forget publish, hold music a hung-up caller left behind): without
    it asyncio logs "exception was never retrieved"; whoever does await it still gets the exception."""
    if not fut.cancelled():
        fut.exception()
