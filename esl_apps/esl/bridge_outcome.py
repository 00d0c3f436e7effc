"""Turn a FreeSWITCH bridge's CHANNEL_EXECUTE_COMPLETE into a switch-agnostic BridgeResult (pure).

Which variables to trust comes from the recorded calls (traces README, "Bridge outcome"):
``originate_disposition`` / ``DIALSTATUS`` always describe the bridge just run, while
``last_bridge_hangup_cause`` is stale after a ring group where an earlier leg failed (ALLOTTED_TIMEOUT,
LOSE_RACE on a successful call) and absent when the caller ends an answered call, so it is never used.
Who answered comes from CHANNEL_BRIDGE's ``Other-Leg-*`` headers, mapped back to the target list.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from esl_apps.call import BridgeOutcome, BridgeResult, BridgeTarget

_BY_CAUSE: dict[str, BridgeOutcome] = {
    "SUCCESS": BridgeOutcome.ANSWERED,
    "NO_ANSWER": BridgeOutcome.NO_ANSWER,
    "ALLOTTED_TIMEOUT": BridgeOutcome.NO_ANSWER,
    "NO_USER_RESPONSE": BridgeOutcome.NO_ANSWER,
    "PROGRESS_TIMEOUT": BridgeOutcome.NO_ANSWER,
    "ORIGINATOR_CANCEL": BridgeOutcome.NO_ANSWER,
    "LOSE_RACE": BridgeOutcome.NO_ANSWER,
    "USER_BUSY": BridgeOutcome.BUSY,
    "CALL_REJECTED": BridgeOutcome.REJECTED,
    "USER_NOT_REGISTERED": BridgeOutcome.UNREACHABLE,
    "SUBSCRIBER_ABSENT": BridgeOutcome.UNREACHABLE,
    "NO_ROUTE_DESTINATION": BridgeOutcome.UNREACHABLE,
    "UNALLOCATED_NUMBER": BridgeOutcome.UNREACHABLE,
    "INVALID_NUMBER_FORMAT": BridgeOutcome.UNREACHABLE,
    "DESTINATION_OUT_OF_ORDER": BridgeOutcome.UNREACHABLE,
    "NETWORK_OUT_OF_ORDER": BridgeOutcome.UNREACHABLE,
    "RECOVERY_ON_TIMER_EXPIRE": BridgeOutcome.UNREACHABLE,
    "NO_ROUTE_TRANSIT_NET": BridgeOutcome.UNREACHABLE,
}

# DIALSTATUS (Asterisk-style words) only matters when originate_disposition is missing.
_BY_DIALSTATUS: dict[str, BridgeOutcome] = {
    "SUCCESS": BridgeOutcome.ANSWERED,
    "NOANSWER": BridgeOutcome.NO_ANSWER,
    "ALLOTTED_TIMEOUT": BridgeOutcome.NO_ANSWER,
    "CANCEL": BridgeOutcome.NO_ANSWER,
    "BUSY": BridgeOutcome.BUSY,
    "CHANUNAVAIL": BridgeOutcome.UNREACHABLE,
}


def outcome_for(disposition: str | None, dialstatus: str | None = None) -> BridgeOutcome:
    if disposition:
        return _BY_CAUSE.get(disposition.upper(), BridgeOutcome.FAILED)
    if dialstatus:
        return _BY_DIALSTATUS.get(dialstatus.upper(), BridgeOutcome.FAILED)
    return BridgeOutcome.FAILED


def parse_originate_causes(value: str | None) -> tuple[tuple[str, str], ...]:
    """``<uuid>;<cause>`` or ``ARRAY::<uuid>;<cause>|:<uuid>;<cause>`` -> ((uuid, cause), ...)."""
    if not value:
        return ()
    items = value[len("ARRAY::") :].split("|:") if value.startswith("ARRAY::") else [value]
    out: list[tuple[str, str]] = []
    for item in items:
        uuid, sep, cause = item.partition(";")
        if sep and uuid:
            out.append((uuid, cause))
    return tuple(out)


def _dialled_user(endpoint: str) -> str:
    """``sofia/external/agent2@127.0.0.1:5092`` -> ``agent2``; ``user/1001@dom`` -> ``1001``."""
    return endpoint.rsplit("/", 1)[-1].split("@", 1)[0]


def match_target(
    targets: Sequence[BridgeTarget],
    *,
    channel_name: str | None,
    destination_number: str | None,
    leg_causes: Sequence[tuple[str, str]] = (),
) -> BridgeTarget | None:
    """The target that answered. Tried in order of reliability: the B-leg channel name equals the
    endpoint (sofia/...), the B-leg destination number equals the dialled user (user/1001 becomes
    sofia/internal/1001@..., so only the number survives), and finally the position of the ``NONE``
    cause in originate_causes when FreeSWITCH created exactly one leg per target."""
    if channel_name:
        for t in targets:
            if t.endpoint == channel_name:
                return t
    if destination_number:
        hits = [t for t in targets if _dialled_user(t.endpoint) == destination_number]
        if len(hits) == 1:
            return hits[0]
    if len(leg_causes) == len(targets):
        answered = [i for i, (_, cause) in enumerate(leg_causes) if cause == "NONE"]
        if len(answered) == 1:
            return targets[answered[0]]
    return None


def bridge_result(
    complete_vars: Mapping[str, str],
    *,
    targets: Sequence[BridgeTarget],
    bridged: Mapping[str, str] | None,
    caller_hung_up: bool,
) -> BridgeResult:
    """Build the result from the COMPLETE's ``variable_*`` values (prefix stripped) and the
    CHANNEL_BRIDGE headers (None when no leg answered)."""
    disposition = complete_vars.get("originate_disposition")
    dialstatus = complete_vars.get("DIALSTATUS")
    outcome = outcome_for(disposition, dialstatus)
    if outcome is not BridgeOutcome.ANSWERED and bridged is not None:
        # A CHANNEL_BRIDGE is proof of an answer even if the variables were not reported.
        outcome = BridgeOutcome.ANSWERED
    cause = disposition or dialstatus or ("SUCCESS" if outcome is BridgeOutcome.ANSWERED else "UNKNOWN")
    leg_causes = parse_originate_causes(complete_vars.get("originate_causes"))
    if outcome is not BridgeOutcome.ANSWERED:
        return BridgeResult(outcome=outcome, cause=cause, leg_causes=leg_causes)
    bridged = bridged or {}
    target = match_target(
        targets,
        channel_name=bridged.get("Other-Leg-Channel-Name"),
        destination_number=bridged.get("Other-Leg-Destination-Number"),
        leg_causes=leg_causes,
    )
    answered_by = None if target is None else (target.agent_id or target.endpoint)
    other = (
        complete_vars.get("bridge_uuid")
        or complete_vars.get("last_bridge_to")
        or bridged.get("Other-Leg-Unique-ID")
        or bridged.get("Bridge-B-Unique-ID")
    )
    return BridgeResult(
        outcome=outcome,
        cause=cause,
        answered_by=answered_by,
        other_leg_uuid=other,
        ended_by="caller" if caller_hung_up else "agent",
        leg_causes=leg_causes,
    )
