"""Ringing outgoing legs (agents' phones) for ``bridge`` and ``originate``.

Each leg follows its endpoint's :class:`AgentBehaviour`: answer after N s, ring forever, 486 Busy,
603 Decline, or not registered. A ringing leg produces no events on the caller's socket (trace 03).
Timeouts as switch_ivr_originate: ``leg_timeout`` ends that leg with ALLOTTED_TIMEOUT,
``originate_timeout`` ends the whole group with NO_ANSWER; when one leg answers the others lose the
race (LOSE_RACE); when the caller hangs up they are cancelled (ORIGINATOR_CANCEL).
With ``group_confirm_key`` a leg that picks up wins only once the key is pressed (collect_thread_run:
the prompt repeats until then); meanwhile it keeps its ``leg_timeout`` from the start of ringing, or
``group_confirm_timeout`` seconds from the pick-up (0, or ``group_confirm_cancel_timeout``: no limit),
and is hung up with ALLOTTED_TIMEOUT when that runs out.
Every attempt lands in ``emu.ring_log`` (and the call's record) with its start, end and outcome.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from esl_apps.sim import templates as T
from esl_apps.sim.dialstring import Group, Leg, number
from esl_apps.sim.record import RingAttempt
from esl_apps.sim.scripts import AgentBehaviour

if TYPE_CHECKING:
    from esl_apps.sim.channel import Channel
    from esl_apps.sim.emulator import Emulator
    from esl_apps.sim.session import ChannelSession

OUTCOMES = {
    "ALLOTTED_TIMEOUT": "no_answer", "NO_ANSWER": "no_answer", "USER_BUSY": "busy",
    "CALL_REJECTED": "rejected", "USER_NOT_REGISTERED": "unregistered", "SUBSCRIBER_ABSENT": "unregistered",
    "LOSE_RACE": "lose_race", "ORIGINATOR_CANCEL": "cancelled", "NONE": "answered",
}


@dataclass
class Attempt:
    leg: Leg
    behaviour: AgentBehaviour | None
    ring: RingAttempt
    session: ChannelSession | None = None  # None: no channel was created (not registered)
    cause: str | None = None  # None while ringing; "NONE" once answered
    done: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def uuid(self) -> str:
        return self.ring.uuid

    @property
    def channel(self) -> Channel | None:
        return self.session.ch if self.session else None


@dataclass
class RingResult:
    answered: Attempt | None
    attempts: list[Attempt]
    disposition: str  # SUCCESS or the failure cause


def _resolve(emu: Emulator, endpoint: str) -> tuple[AgentBehaviour | None, str | None]:
    """-> (behaviour, immediate failure cause)."""
    if endpoint.startswith("error/"):
        return None, endpoint.split("/", 1)[1].upper() or "NORMAL_UNSPECIFIED"
    behaviour = emu.endpoints.get(endpoint)
    if behaviour is None and endpoint.startswith("user/") and "@" in endpoint:
        behaviour = emu.endpoints.get(endpoint.split("@", 1)[0])
    if behaviour is None:
        return None, "SUBSCRIBER_ABSENT" if endpoint.startswith("user/") else "USER_NOT_REGISTERED"
    if behaviour.mode == "unregistered":
        return None, "USER_NOT_REGISTERED"
    return behaviour, None


class Ringer:
    """Rings the groups of one dial string for one originator (or none, for api originate)."""

    def __init__(self, emu: Emulator, originator: ChannelSession | None, call_uuid: str | None) -> None:
        self.emu = emu
        self.originator = originator
        self.call_uuid = call_uuid
        self.attempts: list[Attempt] = []
        self.last_failure: Attempt | None = None

    async def ring(self, groups: list[Group], *, exports: dict[str, str] | None = None) -> RingResult:
        disposition = "NORMAL_UNSPECIFIED"
        for group in groups:
            answered, disposition = await self._ring_group(group, exports or {})
            if answered is not None:
                return RingResult(answered, self.attempts, "SUCCESS")
            if self.originator is not None and not self.originator.ch.up:
                return RingResult(None, self.attempts, "ORIGINATOR_CANCEL")
        return RingResult(None, self.attempts, disposition)

    async def _ring_group(self, group: Group, exports: dict[str, str]) -> tuple[Attempt | None, str]:
        emu = self.emu
        attempts = [self._start(leg, exports) for leg in group.legs]
        self.attempts.extend(attempts)
        answered: asyncio.Future[Attempt] = asyncio.get_running_loop().create_future()
        tasks = [asyncio.ensure_future(self._run_leg(a, answered)) for a in attempts]
        for task in tasks:
            emu.track(task)
        waits: set[asyncio.Future] = {answered, asyncio.ensure_future(self._all_done(attempts))}  # type: ignore[type-arg]
        if self.originator is not None:
            waits.add(asyncio.ensure_future(self.originator.ch.hangup_event.wait()))
        await asyncio.wait(waits, timeout=emu.clock.real(group.originate_timeout),
                           return_when=asyncio.FIRST_COMPLETED)
        for fut in waits:
            if fut is not answered:
                fut.cancel()
        winner = answered.result() if answered.done() and not answered.cancelled() else None
        if winner is None and not answered.done():
            answered.cancel()
        caller_gone = self.originator is not None and not self.originator.ch.up
        for attempt in attempts:
            if attempt is winner or attempt.cause is not None:
                continue
            if caller_gone:
                self.finish(attempt, "ORIGINATOR_CANCEL")
            elif winner is not None:
                self.finish(attempt, "LOSE_RACE")
            else:
                self.finish(attempt, "NO_ANSWER")
        for task in tasks:
            task.cancel()
        if winner is not None:
            return winner, "SUCCESS"
        failed = [a for a in attempts if a.cause not in (None, "NONE")]
        if caller_gone:
            return None, "ORIGINATOR_CANCEL"
        return None, failed[-1].cause if failed else "NO_ANSWER"

    @staticmethod
    async def _all_done(attempts: list[Attempt]) -> None:
        for attempt in attempts:
            await attempt.done.wait()

    def _start(self, leg: Leg, exports: dict[str, str]) -> Attempt:
        emu = self.emu
        behaviour, failure = _resolve(emu, leg.endpoint)
        uuid = leg.variables.get("origination_uuid") or emu.new_uuid()
        ring = RingAttempt(leg.endpoint, uuid, emu.clock.elapsed(), call_uuid=self.call_uuid)
        attempt = Attempt(leg, behaviour, ring)
        emu.ring_log.append(ring)
        if self.originator is not None:
            for record in self.originator.ch.records:
                record.ring_attempts.append(ring)
        if failure is None:
            attempt.session = emu.new_outbound_leg(leg, uuid, self.originator, exports)
        else:
            ring.uuid = uuid if failure not in ("USER_NOT_REGISTERED", "SUBSCRIBER_ABSENT") else ""
            self.finish(attempt, failure)
        return attempt

    async def _run_leg(self, attempt: Attempt, answered: asyncio.Future[Attempt]) -> None:
        if attempt.cause is not None:
            return
        emu, leg, behaviour = self.emu, attempt.leg, attempt.behaviour
        assert behaviour is not None and attempt.session is not None
        if leg.delay_start:
            await emu.clock.sleep(leg.delay_start)
        ch = attempt.session.ch
        attempt.ring.start = emu.clock.elapsed()
        ch.stamp("Channel-Progress-Time")
        ch.fire("CHANNEL_PROGRESS")
        originator = self.originator
        if originator is not None and originator.ch.profile.get("Channel-Progress-Time") in (None, "0"):
            self.originator.ch.stamp("Channel-Progress-Time")
        limit = leg.leg_timeout
        if behaviour.mode in ("busy", "reject"):
            delay = behaviour.busy_after_s
            cause = "USER_BUSY" if behaviour.mode == "busy" else "CALL_REJECTED"
        elif behaviour.mode == "answer":
            delay, cause = behaviour.answer_after_s, "NONE"
        else:
            delay, cause = None, "NO_ANSWER"
        if limit is not None and (delay is None or limit < delay):
            delay, cause = limit, "ALLOTTED_TIMEOUT"
        if delay is None:
            await asyncio.Event().wait()  # rings until the group gives up (cancelled then)
            return
        await emu.clock.sleep(delay)
        if attempt.cause is not None:
            return
        if cause == "NONE":
            if answered.done():
                return
            confirm = leg.variables.get("group_confirm_key")
            if confirm:
                emu.answer(ch)  # picked up; FreeSWITCH now plays group_confirm_file to this leg
                attempt.ring.picked_up_unconfirmed = True
                if not await self._confirmation(attempt, behaviour, limit, delay) or answered.done():
                    return
                attempt.ring.picked_up_unconfirmed = False
            attempt.cause = "NONE"
            attempt.ring.outcome = "answered"
            attempt.ring.end = emu.clock.elapsed()  # ringing ends when the agent picks up (or confirms)
            if not confirm:
                emu.answer(ch)
            answered.set_result(attempt)
            attempt.done.set()
            return
        self.finish(attempt, cause)

    async def _confirmation(self, attempt: Attempt, behaviour: AgentBehaviour, limit: float | None,
                            picked_up_after: float) -> bool:
        """-> True once the agent pressed the key; False when the leg's time ran out (hung up)."""
        variables = attempt.leg.variables
        extend = number(variables.get("group_confirm_timeout"))
        if extend is not None:
            remaining = extend if extend > 0 else None
        elif variables.get("group_confirm_cancel_timeout", "").lower() in ("true", "yes", "on", "1"):
            remaining = None
        else:
            remaining = None if limit is None else max(0.0, limit - picked_up_after)
        if behaviour.confirms and (remaining is None or behaviour.confirm_after_s <= remaining):
            await self.emu.clock.sleep(behaviour.confirm_after_s)
            return attempt.cause is None
        if remaining is None:
            await asyncio.Event().wait()  # the group's timeout or the caller's hangup ends it
        await self.emu.clock.sleep(remaining or 0.0)
        self.finish(attempt, "ALLOTTED_TIMEOUT")
        return False

    def finish(self, attempt: Attempt, cause: str) -> None:
        """A leg that did not answer: hang its channel up with ``cause``."""
        if attempt.cause is not None:
            return
        attempt.cause = cause
        attempt.ring.outcome = OUTCOMES.get(cause, "failed")
        attempt.ring.end = self.emu.clock.elapsed()
        self.last_failure = attempt
        if attempt.session is not None:
            ch = attempt.session.ch
            status = T.SIP_STATUS.get(cause)
            if status:
                ch.set_var("sip_term_status", status)
            self.emu.hangup(ch, cause, remote=cause in ("USER_BUSY", "CALL_REJECTED"))
            attempt.session.release_from_originate()
        attempt.done.set()


def causes_value(attempts: list[Attempt]) -> str | None:
    """originate_causes: ``uuid;CAUSE``, or ``ARRAY::u1;C1|:u2;C2`` for several legs (03d/03e)."""
    items = [f"{a.uuid};{a.cause}" for a in attempts if a.session is not None and a.cause]
    return _array(items)


def legs_value(attempts: list[Attempt]) -> str | None:
    items = [f"{a.uuid};Outbound Call;{a.leg.user}" for a in attempts if a.session is not None]
    return _array(items)


def _array(items: list[str]) -> str | None:
    if not items:
        return None
    if len(items) == 1:
        return items[0]
    return "ARRAY::" + "|:".join(items)
