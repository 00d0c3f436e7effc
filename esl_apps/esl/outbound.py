"""Outbound ESL: FreeSWITCH's `socket host:port async full` connects here, one TCP connection per call.

Behaviour that matters to callers (all from the recorded calls, see the traces README):
* The connection is answered at once: `connect` is written from `connection_made`, then `myevents`,
  optional extra `event plain ...`, `linger` and `resume` are pipelined. A listener that accepts and
  stalls would leave FreeSWITCH waiting 25 s and then park the caller forever, so at capacity (or while
  stopping) a new connection is closed immediately and the dialplan runs the actions after `socket`.
* `resume` makes a socket close interrupt whatever is playing and continue the dialplan, so an
  application failure (handler exception, malformed frame) is handled by closing the socket without
  hanging up: the generated dialplan fallback takes the call. Never dead air.
* With `linger`, FreeSWITCH keeps sending events after the hangup and its linger notice can arrive
  before the last ones (03d/03e), so the session waits for CHANNEL_HANGUP_COMPLETE and the notice
  (bounded) before sending `exit`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from .heap import CallHeap
from .session import ChannelVariables, EventListener, OutboundSession

Handler = Callable[[OutboundSession], Awaitable[None]]

_LOG = logging.getLogger("esl_apps.esl.outbound")

__all__ = ["ChannelVariables", "EventListener", "Handler", "OutboundServer", "OutboundSession"]


class OutboundServer:
    """Accepts FreeSWITCH outbound connections and runs `handler(session)` for each call.

    `events` adds `event plain ...` subscriptions beyond myevents (e.g. RECORD_START RECORD_STOP);
    `end_timeout_s` bounds the wait for the final events and the exit reply; `max_linger_s` is how long
    a handler may keep the socket after the hangup (post-call work, api on a lingering socket);
    `setup_timeout_s` bounds the wait for the `connect` reply (FreeSWITCH answers at once); `heap` is
    the garbage-collector policy that keeps collector pauses short with thousands of calls up.
    """

    def __init__(
        self,
        handler: Handler,
        host: str = "127.0.0.1",
        port: int = 8084,
        *,
        max_calls: int = 2000,
        send_resume: bool = True,
        logger: logging.Logger | None = None,
        events: Sequence[str] = (),
        end_timeout_s: float = 2.0,
        max_linger_s: float = 60.0,
        setup_timeout_s: float = 10.0,
        heap: CallHeap | None = None,
    ) -> None:
        if max_calls < 1:
            raise ValueError("max_calls must be at least 1")
        self.handler = handler
        self.host = host
        self.port = port
        self.max_calls = max_calls
        self.send_resume = send_resume
        self.log = logger or _LOG
        self.events = tuple(events)
        self.end_timeout_s = end_timeout_s
        self.max_linger_s = max_linger_s
        self.setup_timeout_s = setup_timeout_s
        self.heap = heap if heap is not None else CallHeap()
        self._server: asyncio.Server | None = None
        self._sessions: set[OutboundSession] = set()
        self._stopping = False
        self._drained: asyncio.Event | None = None
        self.refused_calls = 0
        # Hook for metrics: called with the seconds between a message the application awaited
        # (an execute's CHANNEL_EXECUTE_COMPLETE, a command or api reply) and its next command.
        self.reaction_observer: Callable[[float], None] | None = None

    @property
    def active_calls(self) -> int:
        return len(self._sessions)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: OutboundSession(self), self.host, self.port, reuse_address=True, backlog=1024
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self.heap.started()
        self.log.info(
            "outbound ESL server listening on %s:%d (max %d calls)", self.host, self.port, self.max_calls
        )

    async def serve_forever(self) -> None:
        if self._server is None:
            await self.start()
        assert self._server is not None
        await self._server.serve_forever()

    async def stop(self, grace_s: float = 10.0) -> None:
        """Refuse new calls at once (closed, so the dialplan falls back), let active calls finish for
        up to `grace_s`, then hand the rest back to the dialplan by closing their sockets."""
        self._stopping = True
        if self._sessions:
            self._drained = asyncio.Event()
            try:
                await asyncio.wait_for(self._drained.wait(), grace_s)
            except TimeoutError:
                self.log.warning(
                    "stop: %d call(s) still active after %.1fs; closing them", len(self._sessions), grace_s
                )
        tasks = [s.task for s in self._sessions if s.task is not None]
        for session in list(self._sessions):
            session._close_transport()
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        self.heap.close()

    # ------------------------------------------------------------------ session bookkeeping

    def _admit(self, session: OutboundSession) -> bool:
        if self._stopping or len(self._sessions) >= self.max_calls:
            self.refused_calls += 1
            self.log.warning(
                "refusing a call (%s): closing the connection so the dialplan fallback runs",
                "stopping" if self._stopping else f"at capacity, {self.max_calls} calls",
            )
            return False
        self._sessions.add(session)
        self.heap.call_admitted()
        return True

    def _release(self, session: OutboundSession) -> None:
        self._sessions.discard(session)
        if not self._sessions:
            if self._drained is not None:
                self._drained.set()
            else:
                self.heap.calls_drained()
