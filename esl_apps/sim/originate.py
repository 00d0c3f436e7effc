"""What an ``api originate`` leg does once it answered: run ``&app(args)`` or the extension
(``<ext> XML <context>``), then join a ``uuid_bridge`` if one was requested meanwhile (04e).
``loopback/<ext>/<context>`` legs come in pairs: the ``-a`` leg runs the application, the ``-b`` leg
the extension; DTMF sent to one appears on the other (07).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from esl_apps.sim import factory
from esl_apps.sim.dialstring import parse_vars

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
    a = emu.start_leg(factory.loopback_channel(emu, a_uuid, extension, b_context, "a", variables),
                      "CS_CONSUME_MEDIA")
    b_channel = factory.loopback_channel(emu, emu.new_uuid(), extension, b_context, "b", {})
    b = emu.start_leg(b_channel, "CS_EXECUTE")
    a.loopback_partner, b.loopback_partner = b, a
    b.ch.call_state = "RINGING"
    for leg in (a, b):  # loopback legs answer at once, without early media
        emu.answer(leg.ch, early_media=False)

    async def b_program() -> None:
        await b.run_dialplan(extension, b_context)

    a.release_from_originate(originate_program(emu, a, target, context))
    b.release_from_originate(b_program)
    emu.link_hangups(a, b)
    return f"+OK {a.ch.uuid}\n"
