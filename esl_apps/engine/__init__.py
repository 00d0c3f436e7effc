"""The IVR flow engine: runs ivr_flows/*.yaml over the switch-agnostic :class:`esl_apps.call.Call`.

It never imports the FreeSWITCH transport: anything implementing the Call protocol (FreeSWITCH
over ESL, the emulator, a test double, later Asterisk) can run a flow.
"""

from esl_apps.engine.context import FlowError
from esl_apps.engine.ringer import GroupRinger, RingContext, RingOutcome, SimultaneousRinger
from esl_apps.engine.runner import MAX_STEPS, FlowEngine, match_did
from esl_apps.engine.trace import CallTrace, TraceStep

__all__ = [
    "MAX_STEPS",
    "CallTrace",
    "FlowEngine",
    "FlowError",
    "GroupRinger",
    "RingContext",
    "RingOutcome",
    "SimultaneousRinger",
    "TraceStep",
    "match_did",
]
