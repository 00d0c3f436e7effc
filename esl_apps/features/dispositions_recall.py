"""Ringing an agent back into wrap-up after they hung up first (``capture.recall_agent: true``).

When the agent ends the call, FreeSWITCH hangs their leg up and no wrap-up connection arrives
(transfer_after_bridge only fires when the OTHER side hangs up). With recall enabled, the agent's
phone is rung over inbound ESL straight into the wrap-up extension, carrying the same variables
the ring-group runtime puts on agent legs, so the new connection is handled like any wrap-up.
If the agent does not answer, the caller of :meth:`AgentRecaller.recall` applies the default code.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Protocol

from esl_apps.call import BridgeTarget
from esl_apps.esl.dialstring import build_dial_string

if TYPE_CHECKING:
    from esl_apps.config.pbx import PbxConfig
    from esl_apps.features.dispositions_hotkeys import HotkeyNote

__all__ = ["AgentRecaller"]

log = logging.getLogger(__name__)


class _Bgapi(Protocol):
    async def bgapi(self, command: str, args: str = "", timeout: float | None = None) -> str: ...


class AgentRecaller:
    def __init__(self, esl: _Bgapi, pbx: PbxConfig, *, ring_s: int = 20) -> None:
        self.esl = esl
        self.pbx = pbx
        self.ring_s = ring_s

    def originate_args(self, customer_uuid: str, note: HotkeyNote) -> str | None:
        agent = self.pbx.agents_by_id.get(note.agent or "")
        endpoints = self.pbx.dial_strings(agent) if agent is not None else ()
        if not endpoints:
            return None
        dialplan = self.pbx.dialplan
        leg_vars = {
            "origination_caller_id_name": "Wrap-up",
            "origination_caller_id_number": dialplan.wrapup_extension,
            "esl_customer_uuid": customer_uuid,
            "esl_agent_id": note.agent or "",
            "esl_recalled": "true",
        }
        if note.group:
            leg_vars["esl_group"] = note.group
        if note.number:
            leg_vars["esl_customer_number"] = note.number
        if note.offered_at_ms:
            leg_vars["esl_offered_at"] = str(note.offered_at_ms)
        dial = build_dial_string(
            [BridgeTarget(e, timeout_s=self.ring_s, leg_vars=leg_vars) for e in endpoints], simultaneous=True
        )
        return f"{dial} {dialplan.wrapup_extension} XML {dialplan.internal_context}"

    async def recall(self, customer_uuid: str, note: HotkeyNote) -> bool:
        """True when the agent answered (the wrap-up connection follows)."""
        args = self.originate_args(customer_uuid, note)
        if args is None:
            log.warning("call %s: agent %s has no endpoint to recall", customer_uuid, note.agent)
            return False
        reply = await self.esl.bgapi("originate", args, timeout=self.ring_s + 15)
        if reply.startswith("+OK"):
            return True
        log.info("call %s: agent %s not reached for wrap-up (%s)", customer_uuid, note.agent, reply.strip())
        return False
