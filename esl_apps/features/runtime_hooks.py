"""Thin per-offer wrappers that let the runtime watch (and step into) the ring-group hunt.

``RingGroupRinger`` (the hunt: pick, ring, on call, wrap-up, misses) is used as it is. The runtime
needs a few moments from inside it: when an agent is reserved (a queued caller then steps out of
the line), just before a phone rings (music on hold must stop first), who was rung and when the
agent answered (for the interaction record), and when agents become free (to wake queued callers
on every node). Wrapping the three objects the hunt talks to gives exactly those moments without a
second copy of the hunt.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from typing import Any, Protocol

from esl_apps.call import BridgeResult, BridgeTarget, Call, CallHangup
from esl_apps.features.agents import AgentState, AgentStore
from esl_apps.store.pick import GroupPicker

Hook = Callable[[], Awaitable[None]]
AgentsHook = Callable[[list[str]], Awaitable[None]]


async def _nothing() -> None:
    return None


class OfferedCall:
    """The caller's Call as the hunt sees it during one offer."""

    def __init__(self, call: Call, *, now_ms: Callable[[], int], before_bridge: Hook = _nothing,
                 on_rung: Callable[[list[str]], None] | None = None) -> None:
        self._call = call
        self._now_ms = now_ms
        self._before_bridge = before_bridge
        self._on_rung = on_rung
        self._passes_on_answer = "on_answer" in inspect.signature(call.bridge).parameters
        self.rung: list[str] = []
        self.answered_at: int | None = None
        self.answered_by: str | None = None

    @property
    def uuid(self) -> str:
        return self._call.uuid

    def __getattr__(self, name: str) -> Any:
        return getattr(self._call, name)

    async def bridge(
        self,
        targets: Sequence[BridgeTarget],
        *,
        simultaneous: bool = True,
        call_vars: Mapping[str, str] | None = None,
        on_answer: Callable[[str | None], Awaitable[None]] | None = None,
    ) -> BridgeResult:
        await self._before_bridge()
        agents = list(dict.fromkeys(t.agent_id or t.endpoint for t in targets))
        self.rung += agents
        if self._on_rung is not None:
            self._on_rung(agents)

        async def answered(agent_id: str | None) -> None:
            if self.answered_at is None:
                self.answered_at = self._now_ms()
                self.answered_by = agent_id
            if on_answer is not None:
                await on_answer(agent_id)

        kwargs: dict[str, Any] = {"on_answer": answered} if self._passes_on_answer else {}
        return await self._call.bridge(targets, simultaneous=simultaneous, call_vars=call_vars, **kwargs)


class ObservedPicker:
    """``GroupPicker`` for one offer: reports reservations and releases."""

    def __init__(self, picker: GroupPicker, *, on_reserved: AgentsHook, on_released: AgentsHook) -> None:
        self._picker = picker
        self._on_reserved = on_reserved
        self._on_released = on_released

    async def pick(self, *args: Any, **kwargs: Any) -> list[str]:
        agents = await self._picker.pick(*args, **kwargs)
        if agents:
            await self._on_reserved(agents)
        return agents

    async def release(self, agent_ids: Collection[str], call_uuid: str = "") -> list[str]:
        freed = await self._picker.release(agent_ids, call_uuid)
        if freed:
            await self._on_released(freed)
        return freed

    async def confirm(self, agent_id: str, call_uuid: str) -> bool:
        return await self._picker.confirm(agent_id, call_uuid)

    async def renew(self, agent_ids: Collection[str], call_uuid: str, lease_ms: int) -> list[str]:
        return await self._picker.renew(agent_ids, call_uuid, lease_ms)


class ObservedAgents:
    """``AgentStore`` for one offer: remembers the talk time and announces the end of wrap-up."""

    def __init__(self, agents: AgentStore, *, on_wrapup: Callable[[str, float], None]) -> None:
        self._agents = agents
        self._on_wrapup = on_wrapup
        self.talk_s: float | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._agents, name)

    async def call_ended(
        self, agent_id: str, talk_s: float, wrapup_s: float, call_uuid: str | None = None
    ) -> AgentState:
        self.talk_s = talk_s
        state = await self._agents.call_ended(agent_id, talk_s=talk_s, wrapup_s=wrapup_s, call_uuid=call_uuid)
        self._on_wrapup(agent_id, wrapup_s)
        return state

    async def no_answer(self, agent_id: str, auto_pause_after: int | None = None) -> AgentState:
        return await self._agents.no_answer(agent_id, auto_pause_after)


class DispositionHooks(Protocol):
    """What the hunt needs from the disposition app (``DispositionApp`` implements it)."""

    async def arm(self, call: Call) -> int: ...

    async def after_bridge(
        self, call: Call, *, agent: str | None, group: str | None, ended_by: str | None,
        offered_at_ms: int | None = None, number: str | None = None,
    ) -> Any: ...


class DispositionLink:
    """Binds the agents' mid-call hotkeys once per call, before the first agent rings (a
    ``bind_meta_app`` lasts the whole call), and tells the disposition app how each answered
    call ended: it hands the hotkey codes to wrap-up, or stores the default code when the agent
    hung up first and no wrap-up leg will arrive."""

    def __init__(self, app: DispositionHooks | None) -> None:
        self.app = app
        self._armed: set[str] = set()

    async def arm(self, call: Call, logger: logging.Logger) -> None:
        if self.app is None or call.uuid in self._armed:
            return
        self._armed.add(call.uuid)
        try:
            await self.app.arm(call)
        except CallHangup:
            raise
        except Exception:  # hotkeys are a convenience: a failure must not stop the hunt
            logger.exception("could not bind disposition hotkeys", extra={"call_uuid": call.uuid})

    async def answered_call_ended(
        self, call: Call, *, agent: str | None, group: str, ended_by: str | None, offered_at_ms: int
    ) -> None:
        self._armed.discard(call.uuid)
        if self.app is not None:  # after_bridge never raises
            await self.app.after_bridge(
                call, agent=agent, group=group, ended_by=ended_by, offered_at_ms=offered_at_ms,
                number=call.caller_number or None,
            )
