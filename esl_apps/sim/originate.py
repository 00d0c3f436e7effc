"""What an ``api originate`` leg does once it answered: run ``&app(args)`` or the extension
(``<ext> XML <context>``), then join a ``uuid_bridge`` if one was requested meanwhile (04e).
``loopback/<ext>/<context>`` legs come in pairs: the ``-a`` leg runs the application, the ``-b`` leg
the extension; the pair answers when the b-leg's extension answers, and only then does the originate
return; DTMF sent to one appears on the other (07).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from esl_apps.sim import factory
from esl_apps.sim.dialstring import number, parse_vars

if TYPE_CHECKING:
    from esl_apps.sim.emulator import Emulator
    from esl_apps.sim.session import ChannelSession


def parse_target(target: str) -> tuple[str, str] | None:
    """``&park()`` -> ("park", ""), ``&playback(/x.wav)`` -> ("playback", "/x.wav"); None: extension."""
    if not target.startswith("&") or len(target) < 2:
        return None
    body = target[1:]
    name, _, rest = body.partition("(")
    return name, rest[:-1] if rest.endswith(")") else rest


def originate_program(emu: Emulator, session: ChannelSession, target: str,
                      context: str) -> Callable[[], Awaitable[None]]:
    async def program() -> None:
        app = parse_target(target)
        if app is not None:
            await session.execute(app[0], app[1], via="dialplan")
            if session.uuid_bridge_to is not None:
                await session.join_uuid_bridge()
            elif session.ch.up and not session.transfer_to:
                emu.hangup(session.ch, "NORMAL_CLEARING", remote=False)
            if session.transfer_to and session.ch.up:
                destination, ctx = session.transfer_to
                session.transfer_to = None
                await session.run_dialplan(destination, ctx)
            return
        emu.transfer(session, target, context, interrupt=False)
        session.transfer_to = None
        await session.run_dialplan(target, context)

    return program


async def loopback_originate(emu: Emulator, dial: str, target: str, context: str) -> str:
    variables: dict[str, str] = {}
    if dial.startswith("{") and "}" in dial:
        variables = parse_vars(dial[1 : dial.index("}")])
        dial = dial[dial.index("}") + 1 :]
    parts = dial.split("/")
    if len(parts) < 2 or not parts[1]:
        return "-ERR NO_ROUTE_DESTINATION\n"
    extension = parts[1]
    b_context = parts[2] if len(parts) > 2 and parts[2] else "default"
    a_uuid = variables.get("origination_uuid") or emu.new_uuid()
    b_uuid = emu.new_uuid()
    a = emu.start_leg(factory.loopback_channel(emu, a_uuid, extension, b_context, "a", {
        **variables, "other_loopback_leg_uuid": b_uuid, "loopback_leg": "A"}), "CS_CONSUME_MEDIA")
    # The originate's {} variables reach the b-leg too (origination_uuid included), and so does the
    # caller id; the b-leg knows its partner (FreeSWITCH 1.11).
    b_channel = factory.loopback_channel(emu, b_uuid, extension, b_context, "b", {
        **variables, "other_loopback_leg_uuid": a_uuid, "loopback_leg": "B"})
    b = emu.start_leg(b_channel, "CS_EXECUTE")
    a.loopback_partner, b.loopback_partner = b, a
    b.ch.call_state = "RINGING"

    async def b_program() -> None:
        await b.run_dialplan(extension, b_context)

    b.release_from_originate(b_program)  # mod_loopback does not answer it: its dialplan (or app) does
    emu.link_hangups(a, b)
    answered = await _answered_or_gone(emu, b, number(variables.get("originate_timeout")) or 60.0)
    if not answered:
        cause = b.ch.hangup_cause or "NO_ANSWER"
        if a.ch.up:
            emu.hangup(a.ch, cause, remote=False)
        a.release_from_originate()
        return f"-ERR {cause}\n"
    await emu.clock.sleep(0.02)  # the originate notices the answer on its next 20 ms poll
    a.release_from_originate(originate_program(emu, a, target, context))
    return f"+OK {a.ch.uuid}\n"


async def _answered_or_gone(emu: Emulator, b: ChannelSession, timeout_s: float) -> bool:
    """Until the b-leg answers (the a-leg answers with it: Emulator.answer) or hangs up."""
    waits = {asyncio.ensure_future(b.ch.answered_event.wait()),
             asyncio.ensure_future(b.ch.hangup_event.wait())}
    await asyncio.wait(waits, timeout=emu.clock.real(timeout_s), return_when=asyncio.FIRST_COMPLETED)
    for fut in waits:
        fut.cancel()
    return b.ch.answered and b.ch.up
