"""One callback attempt over inbound ESL, agent first.

1. The agent (already reserved for us by the picker) is rung with
   ``originate {origination_uuid=A,...}<agent endpoint> &park()``; nobody dials a customer until a
   person is on the line to talk to them.
2. The customer is rung with ``originate {origination_uuid=C,origination_caller_id_number=<callbacks
   .caller_id>,...}<dial_template> &park()``.
3. ``uuid_bridge C A`` joins them. The agent leg carries ``transfer_after_bridge=<wrap-up ext>``
   (trace 04e, section 2: with it the agent leg survives the customer's hangup and reaches wrap-up)
   and the leg variables of a ring-group call (``esl_customer_uuid=C``, agent, group, number), so
   the disposition is linked to the callback's customer leg like any other call. The customer is
   the ``uuid_bridge`` A-side, as the caller was in the trace.

The outcome names the attempt in the ``callbacks`` stream: ``answered`` (completed), the customer's
``no_answer``/``busy``/``rejected``/``failed`` (retried), ``agent_no_answer`` (the request goes back
in its place, the attempt is not counted), ``agent_gone`` (the agent hung up while the customer
rang) and ``customer_hung_up`` (the customer hung up before the bridge): both retried.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from esl_apps.call import BridgeTarget
from esl_apps.esl.dialstring import build_dial_string

__all__ = ["AttemptPlan", "AttemptResult", "customer_outcome", "run_attempt"]

log = logging.getLogger(__name__)

_NO_ANSWER = {"NO_ANSWER", "ALLOTTED_TIMEOUT", "NO_USER_RESPONSE", "ORIGINATOR_CANCEL", "PROGRESS_TIMEOUT",
              "RECOVERY_ON_TIMER_EXPIRE"}
_BUSY = {"USER_BUSY", "NORMAL_CIRCUIT_CONGESTION", "SWITCH_CONGESTION"}
_REJECTED = {"CALL_REJECTED"}


def customer_outcome(reply: str) -> str:
    """``-ERR NO_ANSWER`` -> ``no_answer``; ``busy``, ``rejected``, else ``failed``."""
    cause = reply.strip().removeprefix("-ERR").strip().split(" ")[0].upper()
    if cause in _NO_ANSWER:
        return "no_answer"
    if cause in _BUSY:
        return "busy"
    if cause in _REJECTED:
        return "rejected"
    return "failed"


class _Esl(Protocol):
    async def bgapi(self, command: str, args: str = "", timeout: float | None = None) -> str: ...

    async def api(self, command: str, args: str = "") -> object: ...


@dataclass(frozen=True, slots=True)
class AttemptPlan:
    request_id: str
    agent_id: str
    agent_endpoints: tuple[str, ...]
    group: str
    number: str  # normalised, as dialled
    customer_endpoint: str
    caller_id: str
    agent_uuid: str
    customer_uuid: str
    agent_ring_s: int
    customer_ring_s: int
    wrapup_target: str | None  # transfer_after_bridge value; None: no wrap-up
    wait_margin_s: float = 15.0


@dataclass(frozen=True, slots=True)
class AttemptResult:
    outcome: str
    agent_answered: bool
    detail: str = ""


def agent_originate(plan: AttemptPlan) -> str:
    leg_vars = {
        "origination_uuid": plan.agent_uuid,
        # The agent's phone shows the configured callback caller ID, with the customer's number as
        # the name, so the agent knows whom they are about to talk to.
        "origination_caller_id_name": plan.number,
        "origination_caller_id_number": plan.caller_id,
        "esl_customer_uuid": plan.customer_uuid,
        "esl_agent_id": plan.agent_id,
        "esl_group": plan.group,
        "esl_customer_number": plan.number,
        "esl_callback_request": plan.request_id,
    }
    if plan.wrapup_target:
        leg_vars["transfer_after_bridge"] = plan.wrapup_target
    # One endpoint (the agent's first): a second leg could not share the origination_uuid.
    target = BridgeTarget(plan.agent_endpoints[0], timeout_s=plan.agent_ring_s, leg_vars=leg_vars)
    return build_dial_string([target]) + " &park()"


def customer_originate(plan: AttemptPlan) -> str:
    leg_vars = {
        "origination_uuid": plan.customer_uuid,
        "origination_caller_id_number": plan.caller_id,
        "originate_timeout": str(plan.customer_ring_s),
        "esl_callback_request": plan.request_id,
        "esl_agent_id": plan.agent_id,
        "esl_group": plan.group,
    }
    target = BridgeTarget(plan.customer_endpoint, timeout_s=plan.customer_ring_s, leg_vars=leg_vars)
    return build_dial_string([target]) + " &park()"


async def _kill(esl: _Esl, uuid: str) -> None:
    try:
        await esl.api("uuid_kill", f"{uuid} NORMAL_CLEARING")
    except (ConnectionError, OSError) as exc:
        log.warning("uuid_kill %s failed: %s", uuid, exc)


async def run_attempt(esl: _Esl, plan: AttemptPlan, *, before_customer: object = None) -> AttemptResult:
    """Ring the agent, then (``await before_customer()`` returning True) the customer, then bridge.

    ``before_customer`` lets the dialer count the attempt and re-check the lease between the legs:
    returning False hangs the agent up again (the request was cancelled meanwhile).
    """
    wait_s = plan.agent_ring_s + plan.wait_margin_s
    reply = await esl.bgapi("originate", agent_originate(plan), timeout=wait_s)
    if not reply.startswith("+OK"):
        return AttemptResult("agent_no_answer", False, reply.strip())
    if before_customer is not None and not await before_customer():  # type: ignore[operator]
        await _kill(esl, plan.agent_uuid)
        return AttemptResult("cancelled", True)
    reply = await esl.bgapi(
        "originate", customer_originate(plan), timeout=plan.customer_ring_s + plan.wait_margin_s
    )
    if not reply.startswith("+OK"):
        await _kill(esl, plan.agent_uuid)
        return AttemptResult(customer_outcome(reply), True, reply.strip())
    bridged = await esl.api("uuid_bridge", f"{plan.customer_uuid} {plan.agent_uuid}")
    if not getattr(bridged, "ok", False):
        detail = str(getattr(bridged, "body", "")).strip()
        exists = await esl.api("uuid_exists", plan.agent_uuid)
        agent_there = str(getattr(exists, "body", "")).strip() == "true"
        await _kill(esl, plan.customer_uuid)
        await _kill(esl, plan.agent_uuid)
        # Either side may have hung up between the answer and the bridge; both are retried.
        return AttemptResult("customer_hung_up" if agent_there else "agent_gone", True, detail)
    return AttemptResult("answered", True)
