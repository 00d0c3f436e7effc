"""A FreeSWITCH 1.11 stand-in speaking the real Event Socket protocol over TCP, for tests and
``esl-apps simulate``. See docs/emulator.md."""

from esl_apps.sim.call import EmulatedCall
from esl_apps.sim.emulator import Emulator
from esl_apps.sim.record import CallRecord, RingAttempt
from esl_apps.sim.scripts import AgentBehaviour, CallerScript

__all__ = ["AgentBehaviour", "CallRecord", "CallerScript", "EmulatedCall", "Emulator", "RingAttempt"]
