"""The load test stops the agents only once their calls are over: dispositions are keyed in wrap-up,
after the caller's SIPp is done (against FreeSWITCH 1.11.1 every code was cut off before)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from esl_apps.qa.loadtest import let_agents_finish


@dataclass
class Stats:
    current: int


@dataclass
class FakeAgent:
    """Reports ``calls`` up for its first ``busy_polls`` statistics reads."""

    busy_polls: int
    calls: int = 1
    running: bool = True
    reads: list[float] = field(default_factory=list)

    def stats(self) -> Stats:
        self.reads.append(time.monotonic())
        return Stats(self.calls if len(self.reads) <= self.busy_polls else 0)


def test_waits_while_an_agent_is_still_in_wrap_up() -> None:
    quick, slow = FakeAgent(busy_polls=1), FakeAgent(busy_polls=4)
    let_agents_finish([quick, slow], tail_s=5.0, poll_s=0.01)
    assert len(slow.reads) == 5  # four reads with a call up, the fifth saw it end


def test_returns_at_once_when_no_agent_has_a_call() -> None:
    idle = FakeAgent(busy_polls=0)
    started = time.monotonic()
    let_agents_finish([idle], tail_s=5.0, poll_s=0.5)
    assert time.monotonic() - started < 0.4 and len(idle.reads) == 1


def test_gives_up_after_the_tail_and_ignores_agents_that_exited() -> None:
    stuck, gone = FakeAgent(busy_polls=10**6), FakeAgent(busy_polls=10**6, running=False)
    started = time.monotonic()
    let_agents_finish([stuck, gone], tail_s=0.2, poll_s=0.02)
    assert 0.2 <= time.monotonic() - started < 1.0
    assert gone.reads == []


def test_a_shipped_scenario_expects_a_record_per_call_and_a_disposition_per_answer() -> None:
    from esl_apps.qa.expectations import expected_records, shortfalls
    from esl_apps.qa.scenarios import VARIANTS

    assert expected_records(VARIANTS["callback"], 2, 0) == {"calls": 2, "consent": 2, "callbacks": 2}
    assert expected_records(VARIANTS["caller"], 3, 2) == {"calls": 3, "consent": 3, "dispositions": 2}
    assert "dispositions" not in expected_records(VARIANTS["overflow"], 1, 0)  # nobody answers
    # what the SIPp run against FreeSWITCH showed: every call "succeeded", no agent reached
    stored = {"calls": 3, "consent": 3, "dispositions": 0}
    assert shortfalls(expected_records(VARIANTS["caller"], 3, 3), stored) == [
        "application dispositions stored: 0 for 3 expected (a flow went another way: see serve's log)"]
    assert shortfalls({"calls": 2}, {"calls": 2, "consent": 9}) == []
