"""Where a call goes when its ring group cannot take it: another group, a voicemail box, a callback.

Each group has a chain per condition (``no_answer``, ``all_busy``, ``queue_full``, ``max_wait``,
``closed``): every ``overflow`` rule naming the condition, in the order written, then the group's own
``voicemail`` box as the last resort. The chain is walked until one step takes the call:

- ``{group: X}`` offers the call to group X, which applies its own strategy, queue and overflow, so
  X's outcome is the call's outcome (the chain of the first group ends there);
- ``{voicemail: box}`` runs mod_voicemail for the box (``voicemail <profile> <domain> <number>``; the
  box's e-mail notification is FreeSWITCH's, configured on the box) and the call ends;
- ``{callback: true}`` offers a callback; a caller who declines goes on down the chain.

A condition with no rule and no group voicemail leaves the call to the flow (its ``no_answer`` /
``busy`` / ``failed`` children).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from esl_apps.call import Call, CallHangup
from esl_apps.config.pbx import OverflowCondition, OverflowTarget, PbxConfig, RingGroup
from esl_apps.engine.ringer import RingOutcome

OverflowKind = Literal["group", "voicemail", "callback"]


def overflow_chain(group: RingGroup, condition: OverflowCondition) -> list[OverflowTarget]:
    chain = [rule.to for rule in group.overflow if condition in rule.when]
    if group.voicemail and not any(t.voicemail == group.voicemail for t in chain):
        chain.append(OverflowTarget(voicemail=group.voicemail))
    return chain


def describe(target: OverflowTarget) -> str:
    """``group:billing``, ``voicemail:sales`` or ``callback`` (the interactions' ``overflow_to``)."""
    if target.group is not None:
        return f"group:{target.group}"
    if target.voicemail is not None:
        return f"voicemail:{target.voicemail}"
    return "callback"


@dataclass(frozen=True, slots=True)
class OverflowResult:
    kind: OverflowKind
    target: str  # describe(target)
    outcome: RingOutcome | None = None  # the other group's outcome (kind == "group")
    request_id: str | None = None  # the stored callback (kind == "callback")


async def leave_voicemail(call: Call, pbx: PbxConfig, box_id: str) -> bool:
    """Run the box's voicemail; False if the box is not configured. The call is over afterwards."""
    box = pbx.voicemail.boxes.get(box_id)
    if box is None:
        return False
    try:
        await call.voicemail(box.number, pbx.voicemail_domain, pbx.voicemail.profile)
    except CallHangup:  # the normal end: the caller leaves a message and hangs up
        return True
    if not call.hung_up:  # voicemail returned early (e.g. its prompts are missing): no dead air
        await call.hangup("NORMAL_CLEARING")
    return True


async def run_overflow(
    call: Call,
    pbx: PbxConfig,
    chain: list[OverflowTarget],
    *,
    ring_group: Callable[[str], Awaitable[RingOutcome]],
    offer_callback: Callable[[], Awaitable[str | None]],
    visited: frozenset[str] = frozenset(),
) -> OverflowResult | None:
    """Walk ``chain``; None when no step took the call. ``visited`` groups are skipped (no loops)."""
    for target in chain:
        if call.hung_up:
            raise CallHangup("NORMAL_CLEARING")
        if target.group is not None:
            if target.group in visited or target.group not in pbx.ring_groups:
                continue
            outcome = await ring_group(target.group)
            return OverflowResult("group", describe(target), outcome=outcome)
        if target.voicemail is not None:
            if await leave_voicemail(call, pbx, target.voicemail):
                return OverflowResult("voicemail", describe(target))
            continue
        request_id = await offer_callback()
        if request_id is not None:
            return OverflowResult("callback", "callback", request_id=request_id)
    return None
