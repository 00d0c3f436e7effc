"""Offer a callback instead of waiting, and keep the caller's place for it.

The caller confirms the number to call back: their caller ID is read back digit by digit ("You
entered ... If this is correct, press 1. If not, press 2."), and with 2 (or without a usable caller
ID) they key another one, 6 to 15 digits then #. The request is stored with the caller's
*original* arrival time, so the dialer serves it in turn: after the callers who were already
waiting when this caller arrived, before those who came later.

Storage: the dialers' ``callback_store.CallbackStore`` in the group's hash-tag slot, next to its
queues (``<prefix>:{rg:<group>}:callbacks``, a sorted set scored by the original arrival, and
``<prefix>:{rg:<group>}:cb:<id>``), plus
- stream ``callbacks``: ``{request_id, call_uuid, number, group, event: requested, at, attempt: 0,
  outcome: null, queue, queue_position, arrival_ms}`` (RECORDS.md). The stream record carries every
  field, so a request made while Redis was unreachable (spooled, replayed later) can be re-indexed.
"""

from __future__ import annotations

import contextlib
import logging
import re
from dataclasses import dataclass

import redis.asyncio as aioredis

from esl_apps.call import Call, CallHangup
from esl_apps.config.pbx import CallbackSettings
from esl_apps.features.callback_store import CallbackStore, new_request_id
from esl_apps.features.queue_store import REDIS_DOWN
from esl_apps.features.recording_audit import RecordSink

log = logging.getLogger(__name__)

_NUMBER = re.compile(r"\+?[0-9]{6,15}")
KEYED_NUMBER_REGEX = "^[0-9]{6,15}$"


@dataclass(frozen=True, slots=True)
class CallbackPrompts:
    """FreeSWITCH stock prompts (sounds/en/us/callie/ivr)."""

    you_entered: str = "ivr/ivr-you_entered.wav"  # "You entered..."
    confirm: str = "ivr/ivr-if_correct_one_if_not_two.wav"  # "If this is correct, press 1. If not, press 2."
    enter_number: str = "ivr/ivr-please_enter_the_phone_number.wav"
    invalid: str = "ivr/ivr-that_was_an_invalid_entry.wav"
    stored: str = "ivr/ivr-we_will_return_your_call_at_this_number.wav"
    goodbye: str = "ivr/ivr-thank_you.wav"


@dataclass(frozen=True, slots=True)
class CallbackRequest:
    request_id: str
    call_uuid: str
    number: str
    group: str
    queue: str | None
    arrival_ms: int  # the caller's original arrival: the request's place in line
    queue_position: int | None
    requested_at_ms: int
    source: str = "overflow"  # queue (a caller waiting in a queue) | overflow (the group's chain)


def valid_number(number: str | None) -> str | None:
    """A number we may call back: 6 to 15 digits, optionally with a leading + (E.164)."""
    number = (number or "").strip()
    return number if _NUMBER.fullmatch(number) else None


async def confirm_number(
    call: Call,
    *,
    language: str = "en",
    prompts: CallbackPrompts | None = None,
    read_back_caller_id: bool = True,
    rounds: int = 3,
) -> str | None:
    """The number the caller confirmed, or None (no answer, or no valid number after ``rounds``).

    ``read_back_caller_id`` false (``callbacks.confirm_number: false``) takes a valid caller ID as
    it is; a keyed number is always read back, since a mistyped digit loses the callback.
    """
    prompts = prompts or CallbackPrompts()
    number = valid_number(call.caller_number)
    if number is not None and not read_back_caller_id:
        return number
    for _ in range(rounds):
        if number is None:
            keyed = await call.collect(
                prompts.enter_number, min_digits=6, max_digits=15, tries=3, timeout_ms=7000,
                terminators="#", regex=KEYED_NUMBER_REGEX, invalid_prompt=prompts.invalid,
                digit_timeout_ms=3000, variable="esl_apps_callback_number",
            )
            if not keyed.ok:
                return None
            number = keyed.digits
        await call.play(prompts.you_entered)
        await call.say(language, "number", "iterated", number.lstrip("+"))
        answer = await call.collect(
            prompts.confirm, max_digits=1, tries=2, timeout_ms=5000, terminators="",
            regex="^[12]$", invalid_prompt=prompts.invalid, variable="esl_apps_callback_confirm",
        )
        if answer.digits == "1":
            return number
        if answer.digits != "2":
            return None
        number = None
    return None


class CallbackDesk:
    """Takes requests from callers: indexes them for the dialers (``callback_store.CallbackStore``,
    which owns the key layout and the dialling) and logs the ``requested`` record."""

    def __init__(self, redis: aioredis.Redis | None, records: RecordSink, key_prefix: str = "esl") -> None:
        self.store = CallbackStore(redis, key_prefix) if redis is not None else None
        self.records = records

    async def add(self, request: CallbackRequest) -> bool:
        """Index and log the request; never fails the call.

        False when Redis could not index it now: the ``requested`` record (spooled by the RecordLog
        while Redis is down) carries every field, and ``CallbackStore.ingest`` creates the request
        from it once Redis is back.
        """
        indexed = False
        if self.store is not None:
            try:
                await self.store.add(
                    request_id=request.request_id, number=request.number, group=request.group,
                    arrival_ms=request.arrival_ms, call_uuid=request.call_uuid, source=request.source,
                    queue=request.queue or "",
                )
                indexed = True
            except REDIS_DOWN as exc:
                log.warning("callback %s not indexed (redis unavailable: %s); kept in the spooled record",
                            request.request_id, exc)
        await self.records.append("callbacks", {
            "request_id": request.request_id,
            "call_uuid": request.call_uuid,
            "number": request.number,
            "group": request.group,
            "event": "requested",
            "at": request.requested_at_ms,
            "attempt": 0,
            "outcome": None,
            "queue": request.queue,
            "queue_position": request.queue_position,
            "arrival_ms": request.arrival_ms,
            "source": request.source,
            "indexed": indexed,
        })
        return indexed


async def offer_callback(
    call: Call,
    desk: CallbackDesk,
    *,
    group: str,
    queue: str | None,
    arrival_ms: int,
    queue_position: int | None,
    now_ms: int,
    settings: CallbackSettings | None = None,
    language: str = "en",
    prompts: CallbackPrompts | None = None,
) -> CallbackRequest | None:
    """The whole offer: confirm the number, store the request in turn, thank the caller.

    None when the caller did not confirm a number (the overflow chain goes on).
    """
    prompts = prompts or CallbackPrompts()
    read_back = settings.confirm_number if settings is not None else True
    number = await confirm_number(call, language=language, prompts=prompts, read_back_caller_id=read_back)
    if number is None:
        return None
    request = CallbackRequest(
        request_id=new_request_id(), call_uuid=call.uuid, number=number, group=group, queue=queue,
        arrival_ms=arrival_ms, queue_position=queue_position, requested_at_ms=now_ms,
        source="queue" if queue else "overflow",
    )
    await desk.add(request)
    with contextlib.suppress(CallHangup):  # stored: hanging up during the thanks changes nothing
        await call.play(prompts.stored)
        await call.play(prompts.goodbye)
    return request
