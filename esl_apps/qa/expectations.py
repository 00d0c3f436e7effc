"""What the application should have stored for a shipped scenario, against what it did.

SIPp calls a call good when SIP went well; against a real switch that hid flows going the wrong way
(a key taken by the consent step, calls never reaching an agent, dispositions cut off). For the
shipped caller files, which follow the example configuration, each call leaves a call trace and a
consent decision, each callback call a callback request, and each call an agent answered a
disposition; fewer records in Redis than that fail the run.
"""

from __future__ import annotations

from collections.abc import Mapping

from esl_apps.qa.redis_view import STREAMS
from esl_apps.qa.scenarios import Variant


def expected_records(variant: Variant, calls: int, answered: int) -> dict[str, int]:
    """Minimum new records per stream for ``calls`` calls of ``variant``, ``answered`` of which an
    agent UAS answered."""
    expected = {"calls": calls, "consent": calls}
    if variant.name == "callback":
        expected["callbacks"] = calls
    if variant.agent_mode == "answer" and variant.disposition and answered:
        expected["dispositions"] = answered
    return expected


def shortfalls(expected: Mapping[str, int], delta: Mapping[str, int]) -> list[str]:
    """One line per stream with fewer new records than expected."""
    return [f"application {STREAMS.get(name, name)}: {delta.get(name, 0)} for {want} expected "
            "(a flow went another way: see serve's log)"
            for name, want in expected.items() if delta.get(name, 0) < want]
