"""Agent disposition capture: the wrap-up leg, mid-call hotkeys and the default code.

Every call an agent answered ends with exactly ONE record in the ``dispositions`` stream (and the
document ``disposition:<customer uuid>``), whichever way the codes came:

* the agent keyed them on the wrap-up leg (``source: agent``; hotkey codes keyed during the call
  are merged in and listed in ``hotkey_codes``);
* hotkeys alone covered every required category (``source: hotkey``; wrap-up asks nothing);
* nothing usable arrived (wrap-up timer, garbage only, agent hung up): the codebook's
  ``default_code`` is applied and ``flagged: true`` (``source: default``, or ``hotkey``/``agent``
  when the default only filled a missing required category).

How the wrap-up leg gets here: the ring-group runtime rings agents with
``transfer_after_bridge=<wrapup ext>:XML:<context>`` and leg variables naming the customer call,
the agent and the group (traces 04a/04e). When the caller hangs up, FreeSWITCH transfers the agent
leg to the wrap-up extension, whose ``socket`` action opens a new outbound connection; ``serve``
hands connections with ``esl_apps_entry=wrapup`` (see :func:`is_wrapup`) to :meth:`DispositionApp.handle`.

Integration points for the ring-group runtime (called on the caller's connection; the runtime's
``DispositionLink`` in runtime_hooks.py makes both calls):

* ``await app.arm(call)`` before bridging to agents (binds the hotkeys: dispositions_hotkeys);
* ``await app.after_bridge(call, agent=..., group=..., ended_by=result.ended_by, offered_at_ms=...)``
  right after an answered bridge returns: publishes the hotkey codes for the wrap-up leg, and when
  the AGENT ended the call (no wrap-up leg will come) applies the default code, or, with
  ``capture.recall_agent``, rings the agent back into wrap-up.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from esl_apps.call import Call, CallHangup
from esl_apps.features.callback_store import CallbackStore
from esl_apps.features.dispositions_capture import WrapupCapture
from esl_apps.features.dispositions_codes import merge_codes, missing_required
from esl_apps.features.dispositions_hotkeys import HotkeyNote, HotkeyStore, arm_hotkeys, hotkey_codes
from esl_apps.features.dispositions_prompts import PromptSet, Voice
from esl_apps.features.dispositions_store import WrapupLink, build_record, link_from_variables
from esl_apps.features.dispositions_webhook import WebhookSender
from esl_apps.features.dnc import DncList
from esl_apps.features.followups import FollowupJob, FollowupOutcome, Followups

if TYPE_CHECKING:
    from esl_apps.config.loader import Config
    from esl_apps.features.agents import AgentStore
    from esl_apps.features.dispositions_recall import AgentRecaller

__all__ = ["DISPOSITION_STREAM", "DispositionApp", "DispositionResult", "WrapupLink", "is_wrapup"]

log = logging.getLogger(__name__)

DISPOSITION_STREAM = "dispositions"


def is_wrapup(call: Call, wrapup_extension: str | None = None) -> bool:
    """A connection for the wrap-up extension (the generated dialplan sets esl_apps_entry=wrapup)."""
    if call.variables.get("esl_apps_entry") == "wrapup":
        return True
    return wrapup_extension is not None and call.destination == wrapup_extension


@dataclass(frozen=True, slots=True)
class DispositionResult:
    call_uuid: str
    codes: tuple[str, ...]
    source: str
    flagged: bool
    stored: bool  # False: a record for this call was already written by this process
    record: Mapping[str, Any]
    followups: FollowupOutcome | None = None


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class DispositionApp:
    def __init__(
        self,
        config: Config,
        records: Any,
        agents: AgentStore | None = None,
        followups: Followups | None = None,
        *,
        hotkeys: HotkeyStore | None = None,
        recaller: AgentRecaller | None = None,
        clock: Any = None,
        tts_engine: str = "flite",
        tts_voice: str = "kal",
        language: str = "en",
        prompt_timeout_ms: int = 8000,
        digit_timeout_ms: int = 3000,
        hotkey_wait_s: float = 1.5,
        wrapup_timeout_s: float | None = None,
    ) -> None:
        """``wrapup_timeout_s`` overrides ``capture.wrapup_timeout`` (tests on an accelerated
        emulator); the prompt timeouts are the switch's and scale with it."""
        self.config = config
        self.codebook = config.dispositions
        self.records = records
        self.agents = agents
        # Defaults wired from the record log's Redis client, so `DispositionApp(config, records,
        # agents)` (what serve builds) gets the shared hotkey notes and every follow-up.
        redis = getattr(records, "redis", None)
        prefix = getattr(records, "key_prefix", "esl")
        self._own_webhooks: WebhookSender | None = None
        if followups is None:
            self._own_webhooks = WebhookSender(records)
            followups = Followups(
                self.codebook, records,
                dnc=DncList(redis, prefix) if redis is not None else None,
                callbacks=CallbackStore(redis, prefix) if redis is not None else None,
                webhooks=self._own_webhooks,
            )
        self.followups = followups
        self.hotkeys = hotkeys or HotkeyStore(redis, prefix)
        self.recaller = recaller
        if self.codebook.capture.recall_agent and recaller is None:
            log.warning("capture.recall_agent is set but no inbound ESL connection was given "
                        "(DispositionApp(recaller=AgentRecaller(...))): agents who hang up first get "
                        "the default code")
        self.clock = clock or (lambda: datetime.now(UTC))
        self.tts_engine, self.tts_voice, self.language = tts_engine, tts_voice, language
        self.prompt_timeout_ms = prompt_timeout_ms
        self.digit_timeout_ms = digit_timeout_ms
        self.hotkey_wait_s = hotkey_wait_s
        self.wrapup_timeout_s = wrapup_timeout_s or float(self.codebook.capture.wrapup_timeout)
        self.prompts = PromptSet.from_capture(self.codebook.capture)
        self.ttl_s = config.pbx.redis.trace_ttl_days * 86400
        self._stored: OrderedDict[str, None] = OrderedDict()
        self._background: set[asyncio.Task[Any]] = set()
        callbacks = config.pbx.callbacks
        schedule_id = callbacks.schedule if callbacks else None
        self.schedule = config.pbx.schedules.get(schedule_id) if schedule_id else None

    # -- the wrap-up leg ------------------------------------------------------------------------
    async def handle(self, call: Call) -> DispositionResult:
        """Run wrap-up on the agent's leg, store the one record, run follow-ups, hang the leg up."""
        arrived_ms = _now_ms()
        started = time.monotonic()
        link = link_from_variables(call.variables)
        customer = link.customer_uuid or call.uuid
        if link.customer_uuid is None:
            log.warning("wrap-up %s: no customer call uuid on the agent leg; storing under the agent leg",
                        call.uuid)
        # Wait for the caller's side only when hotkeys exist: the note is then worth a moment, and
        # without hotkeys nothing the agent must hear depends on it.
        wait_s = self.hotkey_wait_s if self.codebook.capture.hotkeys else 0.0
        note = await self.hotkeys.wait(customer, wait_s) if link.customer_uuid else None
        link = link.with_note(note)
        ended_ms = note.ended_at_ms if note and note.ended_at_ms else arrived_ms
        voice = Voice(call, engine=self.tts_engine, voice=self.tts_voice, language=self.language)
        capture = WrapupCapture(
            call, self.codebook, voice, self.prompts, preset=note.codes if note else (),
            schedule=self.schedule, tz=self.schedule.zone if self.schedule else UTC, clock=self.clock,
            prompt_timeout_ms=self.prompt_timeout_ms, digit_timeout_ms=self.digit_timeout_ms,
        )
        ending = "done"
        try:
            async with asyncio.timeout(self.wrapup_timeout_s):
                await capture.run()
        except TimeoutError:
            ending = "timeout"
        except CallHangup:
            ending = "agent_hangup"
        if capture.rejected:
            log.info("wrap-up %s: %d invalid entr(y/ies) refused", customer, len(capture.rejected))
        wrapup_s = max(0.0, (time.monotonic() - started) + (arrived_ms - ended_ms) / 1000)
        result = await self._finish(
            link, customer, capture.preset, capture.codes, wrapup_s=wrapup_s, confirmed=capture.confirmed,
            callback_at=capture.callback_at, ending=ending, agent_leg=call.uuid,
            callback_problem=capture.callback_problem,
        )
        if self.agents is not None and link.agent:
            await _best_effort(self.agents.wrapup_done(link.agent), "agent state")
        if not call.hung_up:
            try:
                if ending == "done":
                    await voice.play(self.prompts.get("saved"))
                await call.hangup("NORMAL_CLEARING")
            except CallHangup:
                pass
        return result

    # -- the caller's side ----------------------------------------------------------------------
    async def arm(self, call: Call) -> int:
        """Bind the codebook's mid-call hotkeys on the caller's leg; the ring group calls this
        before the first agent rings. Returns how many keys were bound."""
        return await arm_hotkeys(call, self.codebook)

    async def after_bridge(
        self,
        call: Call,
        *,
        agent: str | None,
        group: str | None,
        ended_by: str | None,
        offered_at_ms: int | None = None,
        number: str | None = None,
    ) -> DispositionResult | None:
        """Call right after an answered bridge returns, on the caller's connection. Never raises."""
        note = HotkeyNote(
            codes=hotkey_codes(call.variables, self.codebook), agent=agent, group=group,
            number=number or call.caller_number or None, ended_by=ended_by, offered_at_ms=offered_at_ms,
            ended_at_ms=_now_ms(),
        )
        await self.hotkeys.publish(call.uuid, note)
        if ended_by != "agent":
            return None  # the agent leg goes to wrap-up (transfer_after_bridge)
        if self.codebook.capture.recall_agent and self.recaller is not None and agent:
            task = asyncio.get_running_loop().create_task(self._recall(call.uuid, note))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
            return None
        return await self.apply_default(call.uuid, agent, group, number=note.number,
                                        offered_at_ms=offered_at_ms, hotkeys=note.codes)

    async def _recall(self, customer_uuid: str, note: HotkeyNote) -> None:
        assert self.recaller is not None and note.agent
        try:
            reached = await self.recaller.recall(customer_uuid, note)
        except Exception:
            log.exception("call %s: recalling agent %s into wrap-up failed", customer_uuid, note.agent)
            reached = False
        if not reached:
            await self.apply_default(customer_uuid, note.agent, note.group, number=note.number,
                                     offered_at_ms=note.offered_at_ms, hotkeys=note.codes)

    async def apply_default(
        self,
        customer_uuid: str,
        agent: str | None,
        group: str | None,
        *,
        number: str | None = None,
        offered_at_ms: int | None = None,
        hotkeys: tuple[str, ...] | None = None,
        system_outcome: str = "answered",
    ) -> DispositionResult:
        """No wrap-up leg for this call (the agent hung up first): store the hotkey codes, if any,
        plus the default code for what is missing, flagged. ``hotkeys`` None reads the published note."""
        if hotkeys is None:
            note = await self.hotkeys.get(customer_uuid)
            hotkeys = note.codes if note else ()
        link = WrapupLink(customer_uuid, agent, group, number, offered_at_ms)
        return await self._finish(link, customer_uuid, hotkeys, (), wrapup_s=0.0, confirmed=True,
                                  callback_at=None, ending="agent_hung_up_first", agent_leg=None,
                                  system_outcome=system_outcome)

    # -- storing --------------------------------------------------------------------------------
    async def _finish(
        self,
        link: WrapupLink,
        customer: str,
        preset: tuple[str, ...],
        keyed: tuple[str, ...],
        *,
        wrapup_s: float,
        confirmed: bool,
        callback_at: datetime | None,
        ending: str,
        agent_leg: str | None,
        callback_problem: str | None = None,
        system_outcome: str = "answered",
    ) -> DispositionResult:
        book = self.codebook
        codes = merge_codes(book, preset, keyed)
        flagged = False
        default = book.lookup(book.default_code) if book.default_code else None
        missing = missing_required(book, codes)
        if default is not None and (not codes or default.category in missing):
            codes = merge_codes(book, codes, (default.code,))
            flagged = True
        elif not codes:
            flagged = True  # nothing keyed and no default configured: still a call to look at
        source = "agent" if keyed else ("hotkey" if preset else "default")
        record = build_record(
            book, link, codes, source=source, flagged=flagged, wrapup_s=wrapup_s,
            system_outcome=system_outcome, captured_at=_now_ms(), hotkey_codes=preset, confirmed=confirmed,
            callback_at=callback_at, ending=ending, agent_leg=agent_leg,
            missing=missing_required(book, codes), callback_problem=callback_problem,
        )
        if customer in self._stored:
            log.warning("call %s: disposition already stored by this process; not storing twice", customer)
            return DispositionResult(customer, codes, source, flagged, False, record)
        self._stored[customer] = None
        while len(self._stored) > 50_000:
            self._stored.popitem(last=False)
        await self.records.append(DISPOSITION_STREAM, record, doc_key=f"disposition:{customer}",
                                  ttl_s=self.ttl_s)
        outcome = None
        if self.followups is not None:
            at_ms = int(callback_at.timestamp() * 1000) if callback_at else None
            outcome = await self.followups.run(FollowupJob(
                call_uuid=customer, codes=codes, record=record, agent=link.agent, group=link.group,
                number=link.number, callback_at_ms=at_ms,
            ))
        log.info("call %s: disposition %s (%s%s)", customer, " ".join(codes) or "-", source,
                 ", flagged" if flagged else "")
        return DispositionResult(customer, codes, source, flagged, True, record, outcome)

    async def close(self, webhook_grace_s: float = 5.0) -> None:
        """Stop background work; webhooks still pending get ``webhook_grace_s`` to be delivered."""
        for task in list(self._background):
            task.cancel()
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        if self._own_webhooks is not None:
            await self._own_webhooks.close(webhook_grace_s)


async def _best_effort(awaitable: Any, what: str) -> None:
    try:
        await awaitable
    except Exception as exc:
        log.warning("%s not updated: %s", what, exc)

