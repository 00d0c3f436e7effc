"""Which application serves an outbound connection: the generated dialplan says why the call came.

Every ``socket`` action of the generated dialplan first sets ``esl_apps_entry`` (see
``esl_apps.dialplan.contract``): ``did`` runs the DID's IVR flow, ``group`` rings a group dialled on
its internal extension, ``feature`` is an agent's login/logout/pause code, ``wrapup`` is an agent
leg transferred for disposition capture. A connection without the variable (a hand-written
dialplan) is treated as ``did``.
"""

from __future__ import annotations

import logging
from typing import Any

from esl_apps.call import Call, CallHangup
from esl_apps.config import Config
from esl_apps.engine import FlowEngine, FlowError, RingContext
from esl_apps.engine.trace import log_event

__all__ = ["CallRouter"]

log = logging.getLogger("esl_apps.dispatch")

_CONFIRM = "tone_stream://%(200,100,600);%(200,100,800)"  # rising beeps: done
_REFUSE = "tone_stream://%(500,100,300)"  # one low tone: not possible


class CallRouter:
    def __init__(self, config: Config, engine: FlowEngine, *, agents: Any = None, wrapup: Any = None) -> None:
        """``agents``: an ``AgentStore`` (feature codes); ``wrapup``: a ``DispositionApp``."""
        self.config = config
        self.engine = engine
        self.agents = agents
        self.wrapup = wrapup

    async def handle(self, call: Call) -> str:
        """-> how the call ended, a short label for the metrics (``esl_apps.ops.serve_metrics``)."""
        entry = call.variables.get("esl_apps_entry") or "did"
        if entry == "wrapup" and self.wrapup is not None:
            result = await self.wrapup.handle(call)
            return f"disposition_{getattr(result, 'source', 'none')}"
        if entry == "group":
            return await self._group(call)
        if entry == "feature":
            return await self._feature(call)
        return (await self.engine.run(call)).end

    async def _group(self, call: Call) -> str:
        """An internal call to a group's extension: hunt the group; its overflow applies."""
        group = call.variables.get("esl_apps_group") or ""
        if group not in self.config.pbx.ring_groups:
            raise FlowError(f"group entry for unknown group {group!r}")  # -> dialplan fallback
        try:
            await call.answer()
            ctx = RingContext(pbx=self.config.pbx, flow="", node=f"group:{group}", variables={}, logger=log)
            outcome = await self.engine.ringer.ring(call, group, ctx)
            log_event(
                log,
                {
                    "event": "group_call",
                    "call_uuid": call.uuid,
                    "group": group,
                    "status": outcome.status,
                    "answered_by": outcome.answered_by,
                },
            )
            if not call.hung_up:
                await call.hangup("NORMAL_CLEARING")
        except CallHangup:
            return "caller_hangup"
        return outcome.status

    def _agent_for(self, call: Call) -> Any:
        pbx = self.config.pbx
        agent_id = call.variables.get("esl_apps_agent")
        if agent_id and agent_id in pbx.agents_by_id:
            return pbx.agents_by_id[agent_id]
        number = call.caller_number
        return next((a for a in pbx.agents if a.extension and a.extension == number), None)

    async def _feature(self, call: Call) -> str:
        """``*21`` login, ``*22`` logout, ``*23[reason]`` pause, ``*24`` unpause, from the agent's
        own phone (the caller's extension names the agent)."""
        feature = call.variables.get("esl_apps_feature") or ""
        agent = self._agent_for(call)
        ok = False
        try:
            await call.answer()
            if agent is not None and self.agents is not None:
                ok = await self._apply(feature, agent.id, call.variables.get("esl_apps_feature_arg") or "")
            log_event(
                log,
                {
                    "event": "agent_feature",
                    "call_uuid": call.uuid,
                    "feature": feature,
                    "agent": agent.id if agent else None,
                    "ok": ok,
                },
            )
            await call.play(_CONFIRM if ok else _REFUSE)
            await call.hangup("NORMAL_CLEARING")
        except CallHangup:
            return "caller_hangup"
        return "ok" if ok else "refused"

    async def _apply(self, feature: str, agent_id: str, argument: str) -> bool:
        store = self.agents
        try:
            if feature == "pause":
                await store.pause(agent_id, argument)
            elif feature in ("login", "logout", "unpause"):
                await getattr(store, feature)(agent_id)
            else:
                return False
        except Exception:  # Redis down: the agent hears the refusal tone and can try again
            log.exception("agent %s: %s failed", agent_id, feature)
            return False
        return True
