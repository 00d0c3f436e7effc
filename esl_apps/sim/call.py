"""A call placed into the emulator, as the test (or ``esl-apps simulate``) holds it."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from esl_apps.sim.emulator import Emulator
    from esl_apps.sim.record import CallRecord
    from esl_apps.sim.scripts import CallerScript
    from esl_apps.sim.session import ChannelSession


class EmulatedCall:
    def __init__(self, emu: Emulator, session: ChannelSession, record: CallRecord,
                 script: CallerScript) -> None:
        self.emu = emu
        self.session = session
        self.record = record
        self.script = script

    @property
    def uuid(self) -> str:
        return self.session.ch.uuid

    @property
    def channel(self):  # type: ignore[no-untyped-def]
        return self.session.ch

    @property
    def done(self) -> bool:
        return all(leg.done_event.is_set() for leg in self.record.legs.values())

    async def wait_done(self, timeout: float = 30.0) -> CallRecord:
        """Wait (real seconds) until the caller's leg and every leg created for it are torn down."""

        async def all_legs() -> None:
            while True:
                legs = list(self.record.legs.values())
                for leg in legs:
                    await leg.done_event.wait()
                if len(self.record.legs) == len(legs):
                    return

        await asyncio.wait_for(all_legs(), timeout)
        return self.record

    async def wait_answered(self, timeout: float = 10.0) -> bool:
        """Wait (real seconds) until the caller's leg is answered; False if it ended first."""
        ch = self.session.ch
        waits = {asyncio.ensure_future(ch.answered_event.wait()), asyncio.ensure_future(ch.done_event.wait())}
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        for fut in waits:
            fut.cancel()
        return ch.answered

    def hangup(self, cause: str = "NORMAL_CLEARING") -> None:
        """The caller hangs up now (a BYE from the phone)."""
        self.emu.hangup(self.session.ch, cause, remote=True)

    def press(self, digits: str, gap_s: float = 0.1) -> None:
        """The caller keys ``digits`` now, ``gap_s`` emulated seconds apart."""
        delay = 0.0
        for digit in digits:
            self.emu.clock.call_later(delay, self.emu.key, self.session.ch, digit)
            delay += gap_s
