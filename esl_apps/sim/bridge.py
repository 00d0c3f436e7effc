"""``bridge``, ``uuid_bridge`` and what happens to the agent leg afterwards.

Outcome variables on the caller's leg are the ones the traces README tabulates (originate_disposition,
DIALSTATUS, originate_causes, the stale last_bridge_hangup_cause, bridge_hangup_cause...). A failed
bridge hangs the caller up (CHANNEL_HANGUP before the bridge's EXECUTE_COMPLETE) unless
continue_on_fail allows the cause. After the caller hangs up the agent leg is transferred
(transfer_after_bridge), parked (park_after_bridge), runs exec_after_bridge_app, or is hung up;
hangup_after_bridge=false on the agent leg changes nothing (04d).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from esl_apps.sim import dialstring
from esl_apps.sim import templates as T
from esl_apps.sim.legs import Ringer, causes_value, legs_value
from esl_apps.sim.record import BridgeSpan
from esl_apps.sim.session import AppContext, ChannelSession, QueuedExecute, application

if TYPE_CHECKING:
    from esl_apps.sim.emulator import Emulator


def _continue_on_fail(value: str | None, cause: str) -> bool:
    if not value:
        return False
    if value.lower() in ("true", "yes", "on", "1"):
        return True
    allowed = {c.strip().upper() for c in value.split(",")}
    return cause in allowed or T.Q850.get(cause, "") in allowed


@application("bridge")
async def bridge_app(ctx: AppContext) -> None:
    session, ch, emu = ctx.session, ctx.ch, ctx.emu
    groups = dialstring.parse(ctx.arg)
    if not groups:
        return
    ringer = Ringer(emu, session, ch.uuid)
    result = await ringer.ring(groups, exports=session.exports)
    legs = legs_value(result.attempts)
    failure = ringer.last_failure
    if result.answered is None:
        cause = result.disposition
        if failure is not None and failure.session is not None:
            ch.set_var("originate_signal_bond", failure.uuid)
        ch.set_var("originated_legs", legs)
        if failure is not None and failure.session is not None:
            ch.set_var("last_bridge_hangup_cause", failure.cause)
            status = T.SIP_STATUS.get(failure.cause or "")
            if status:
                ch.set_var("last_bridge_proto_specific_hangup_cause", f"sip:{status}")
        ch.set_vars([("originate_disposition", cause), ("DIALSTATUS", T.DIALSTATUS.get(cause, cause)),
                     ("originate_causes", causes_value(result.attempts)), ("originate_failed_cause", cause)])
        if ch.up and not _continue_on_fail(ch.vars.get("continue_on_fail"), cause):
            emu.hangup(ch, cause, remote=False)
        return
    winner = result.answered
    b = winner.session
    assert b is not None
    if not ch.answered:
        emu.answer(ch)  # the caller is answered when the callee answers
    ch.set_var("originated_legs", legs)
    if failure is not None and failure.session is not None:
        ch.set_var("last_bridge_hangup_cause", failure.cause)
    ch.set_vars([("originate_disposition", "SUCCESS"), ("DIALSTATUS", "SUCCESS"),
                 ("originate_causes", causes_value(result.attempts)), ("signal_bond", b.ch.uuid)])
    b.release_from_originate(lambda: after_bridge_b(b))
    await connect(emu, session, b, endpoint=winner.leg.endpoint)
    if ch.up and b.ch.hangup_cause and (ch.vars.get("hangup_after_bridge") or "").lower() == "true":
        emu.hangup(ch, "NORMAL_CLEARING", remote=False)


async def connect(emu: Emulator, a: ChannelSession, b: ChannelSession, *, endpoint: str) -> str:
    """Bridge two answered legs until one hangs up; -> "caller" or "agent" (who ended it)."""
    ach, bch = a.ch, b.ch
    ach.profile["Callee-ID-Name"] = bch.profile.get("Callee-ID-Name", "Outbound Call")
    ach.profile["Callee-ID-Number"] = bch.profile.get("Callee-ID-Number",
                                                      bch.profile.get("Destination-Number", ""))
    ach.stamp("Channel-Bridged-Time")
    ach.other_profile, ach.other_type = dict(bch.profile), "originatee"
    bch.other_profile, bch.other_type = dict(ach.profile), "originator"
    a.bridge = b.bridge = (a, b)
    ach.bridged_to, bch.bridged_to = bch, ach
    ab = [("Bridge-A-Unique-ID", ach.uuid), ("Bridge-B-Unique-ID", bch.uuid)]
    ach.fire("CHANNEL_BRIDGE", before=ab)
    span = BridgeSpan(endpoint, bch.uuid, emu.clock.elapsed())
    for record in ach.records:
        record.bridges.append(span)
        record.legs.setdefault(bch.uuid, bch)
    ach.set_vars([("bridge_to", bch.uuid), ("last_bridge_to", bch.uuid), ("bridge_channel", bch.name),
                  ("bridge_uuid", bch.uuid), ("last_sent_callee_id_name", ach.profile["Callee-ID-Name"]),
                  ("last_sent_callee_id_number", ach.profile["Callee-ID-Number"])])
    bch.set_vars([("last_bridge_to", ach.uuid), ("bridge_channel", ach.name), ("bridge_uuid", ach.uuid),
                  ("last_sent_callee_id_name", ach.profile.get("Caller-ID-Name", "")),
                  ("last_sent_callee_id_number", ach.profile.get("Caller-ID-Number", ""))])
    timers = emu.start_agent_timers(b, a)
    a.unbridge.clear()
    b.unbridge.clear()
    waits = {asyncio.ensure_future(ach.hangup_event.wait()), asyncio.ensure_future(bch.hangup_event.wait()),
             asyncio.ensure_future(a.unbridge.wait()), asyncio.ensure_future(b.unbridge.wait())}
    await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    for fut in waits:
        fut.cancel()
    for timer in timers:
        timer.cancel()
    # A uuid_transfer of one leg ends the bridge like that leg leaving it.
    ended_by = "caller" if not ach.up or (a.unbridge.is_set() and bch.up) else "agent"
    span.end, span.ended_by = emu.clock.elapsed(), ended_by
    if ended_by == "caller":
        # The agent leg moves on ~10 ms later, the caller's leg reports the unbridge ~20 ms later (04a).
        bch.set_vars([("sip_hangup_phrase", "OK"), ("last_bridge_hangup_cause", ach.hangup_cause),
                      ("last_bridge_proto_specific_hangup_cause", "sip:200")])
        await emu.clock.sleep(0.01)
        bch.set_var("bridge_hangup_cause", ach.hangup_cause)
        b.bridge_done.set()
        await emu.clock.sleep(0.01)
        ach.set_var("bridge_to", None)
        if not bch.up:  # the agent leg was hung up with the caller (no after-bridge action)
            ach.set_var("bridge_hangup_cause", bch.hangup_cause)
    else:
        cause = bch.hangup_cause or "NORMAL_CLEARING"
        ach.set_vars([("sip_hangup_phrase", "OK"), ("last_bridge_hangup_cause", cause),
                      ("last_bridge_proto_specific_hangup_cause", f"sip:{T.SIP_STATUS.get(cause, '200')}"),
                      ("bridge_hangup_cause", cause), ("bridge_to", None)])
        b.bridge_done.set()
    ach.fire("CHANNEL_UNBRIDGE", before=ab)
    a.bridge = None
    ach.bridged_to = bch.bridged_to = None
    return ended_by


def meta_pressed(emu: Emulator, a: ChannelSession, digit: str) -> None:
    """The agent keyed ``*<digit>`` while bridged to ``a``: run the A-leg binding (flags o, i)."""
    binding = a.meta_bindings.get(digit)
    if binding is None:
        return
    listen, flags, app_spec = binding
    if "b" not in listen:
        return
    app, _, arg = app_spec.partition("::")
    if "i" in flags:
        async def inline() -> None:
            await emu.clock.sleep(0.1)
            await a.execute(app, arg, via="inline")
        emu.track(asyncio.ensure_future(inline()))
    else:
        a.after_bridge.append(QueuedExecute(app, arg, None))


async def after_bridge_b(b: ChannelSession) -> None:
    """The agent leg's program once it answered a bridge: wait for the bridge, then move on."""
    emu, ch = b.emu, b.ch
    await b.bridge_done.wait()
    b.bridge = None
    if not ch.up:
        return
    if b.transfer_to:  # uuid_transfer of the agent leg while bridged
        destination, context = b.transfer_to
        b.transfer_to = None
        ch.set_running_state("CS_ROUTING")
        ch.set_running_state("CS_EXECUTE")
        await b.run_dialplan(destination, context)
        return
    target = ch.vars.get("transfer_after_bridge")
    if target:
        parts = target.replace(":", " ").split()
        context = parts[2] if len(parts) > 2 else ch.profile.get("Context", "default")
        emu.transfer(b, parts[0], context, kind="bl_xfer", interrupt=False)
        destination, context = b.transfer_to or (parts[0], context)
        b.transfer_to = None
        ch.set_running_state("CS_ROUTING")
        ch.set_running_state("CS_EXECUTE")
        await b.run_dialplan(destination, context)
        return
    ch.set_running_state("CS_EXECUTE")
    if (ch.vars.get("park_after_bridge") or "").lower() == "true":
        await b.park_loop(None)
        if b.transfer_to:
            destination, context = b.transfer_to
            b.transfer_to = None
            ch.set_running_state("CS_ROUTING")
            ch.set_running_state("CS_EXECUTE")
            await b.run_dialplan(destination, context)
        return
    app = ch.vars.get("exec_after_bridge_app")
    if app:
        await b.execute(app, ch.vars.get("exec_after_bridge_arg", ""), via="dialplan")
        if ch.up:
            emu.hangup(ch, "NORMAL_CLEARING", remote=False)
        return
    emu.hangup(ch, "NORMAL_CLEARING", remote=False)


async def run_uuid_bridge(emu: Emulator, a: ChannelSession) -> None:
    """api uuid_bridge A B: A's socket application has ended; bridge A and B (04e)."""
    b = a.uuid_bridge_to
    a.uuid_bridge_to = None
    if b is None or not a.ch.up or not b.ch.up:
        return
    ch = a.ch
    for state in ("CS_HIBERNATE", "CS_RESET", "CS_SOFT_EXECUTE"):
        ch.set_running_state(state)
    ch.fire("CHANNEL_EXECUTE", after=[("Application", "uuid_bridge"), ("Application-Data", b.ch.uuid)],
            calling=T.CALLING_UUID_BRIDGE_EXECUTE)
    await connect(emu, a, b, endpoint=b.ch.name)
    if ch.up:
        emu.hangup(ch, "NORMAL_CLEARING", remote=False)
