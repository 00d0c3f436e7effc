"""Protocol error hierarchy, split the way h11 splits it.

The split tells the caller who is at fault: a RemoteProtocolError means FreeSWITCH (or whatever sits at the
other end) sent bytes we cannot frame, so the session must end; a LocalProtocolError means our own code asked
for a command that would corrupt the stream (for example a newline inside an argument), which is a bug to fix
and must never reach the socket.
"""

from __future__ import annotations

from typing import Any


class ProtocolError(Exception):
    """Base class: anything the sans-IO protocol core refuses."""


class RemoteProtocolError(ProtocolError):
    """The peer sent bytes that cannot be framed or decoded.

    `messages` holds the messages that were complete before the bad frame in the same `feed()` call, so a
    transport can still deliver them (e.g. a CHANNEL_HANGUP that preceded the garbage) before it closes.
    """

    def __init__(self, message: str, messages: list[Any] | None = None) -> None:
        super().__init__(message)
        self.messages: list[Any] = list(messages or ())


class LocalProtocolError(ProtocolError, ValueError):
    """We were asked to build something the wire format cannot carry safely."""
