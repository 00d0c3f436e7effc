"""Business hours are wall-clock hours in the schedule's timezone, across DST changes.

Europe/London: BST ends 2026-10-25 (02:00 BST -> 01:00 GMT) and starts 2026-03-29 (01:00 GMT ->
02:00 BST). America/New_York: EDT starts 2026-03-08 and ends 2026-11-01. Each case gives a UTC
instant whose local reading flips between the two sides of a change; comparing in UTC would get
one side wrong.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from esl_apps.config.schedules import Schedule
from esl_apps.engine.hours import evaluate, next_opening
from tests.support.flow_harness import Harness
from tests.support.scripted_call import FakeClock


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


LONDON = Schedule.model_validate(
    {
        "timezone": "Europe/London",
        "weekly": {"mon-fri": ["08:00-18:00"], "sun": ["00:00-03:00"]},
        "holidays": ["2026-12-25", {"date": "2026-12-24", "hours": ["08:00-12:00"], "name": "Christmas Eve"}],
    }
)
NEW_YORK = Schedule.model_validate({"timezone": "America/New_York", "weekly": {"mon-fri": ["09:00-17:00"]}})


@pytest.mark.parametrize(
    ("at", "status"),
    [
        # October: BST (UTC+1) before Sunday 25th, GMT after
        (utc(2026, 10, 23, 7, 30), "open"),  # Fri 08:30 BST
        (utc(2026, 10, 23, 17, 30), "closed"),  # Fri 18:30 BST
        (utc(2026, 10, 26, 7, 30), "closed"),  # Mon 07:30 GMT
        (utc(2026, 10, 26, 8, 0), "open"),  # Mon 08:00 GMT
        (utc(2026, 10, 26, 17, 30), "open"),  # Mon 17:30 GMT
        # the change night: 01:30 local happens twice, both inside 00:00-03:00
        (utc(2026, 10, 25, 0, 30), "open"),  # 01:30 BST
        (utc(2026, 10, 25, 1, 30), "open"),  # 01:30 GMT
        (utc(2026, 10, 25, 2, 30), "open"),  # 02:30 GMT
        (utc(2026, 10, 25, 3, 0), "closed"),  # 03:00 GMT
        # March: GMT before Sunday 29th, BST after
        (utc(2026, 3, 27, 8, 0), "open"),  # Fri 08:00 GMT
        (utc(2026, 3, 27, 7, 59), "closed"),  # Fri 07:59 GMT
        (utc(2026, 3, 30, 7, 0), "open"),  # Mon 08:00 BST
        (utc(2026, 3, 30, 6, 59), "closed"),  # Mon 07:59 BST
        (utc(2026, 3, 30, 16, 59), "open"),  # Mon 17:59 BST
        (utc(2026, 3, 30, 17, 0), "closed"),  # Mon 18:00 BST
        # the change night: 01:00-02:00 local does not exist
        (utc(2026, 3, 29, 0, 30), "open"),  # 00:30 GMT
        (utc(2026, 3, 29, 1, 30), "open"),  # 02:30 BST
        (utc(2026, 3, 29, 2, 0), "closed"),  # 03:00 BST
    ],
)
def test_london_across_both_changes(at, status):
    assert evaluate(LONDON, at).status == status


@pytest.mark.parametrize(
    ("at", "status"),
    [
        (utc(2026, 3, 6, 14, 0), "open"),  # Fri 09:00 EST (UTC-5)
        (utc(2026, 3, 6, 13, 30), "closed"),  # Fri 08:30 EST
        (utc(2026, 3, 9, 13, 0), "open"),  # Mon 09:00 EDT (UTC-4)
        (utc(2026, 3, 9, 21, 30), "closed"),  # Mon 17:30 EDT
        (utc(2026, 10, 30, 13, 30), "open"),  # Fri 09:30 EDT
        (utc(2026, 11, 2, 13, 30), "closed"),  # Mon 08:30 EST
        (utc(2026, 11, 2, 21, 30), "open"),  # Mon 16:30 EST
    ],
)
def test_new_york_across_both_changes(at, status):
    assert evaluate(NEW_YORK, at).status == status


def test_holidays_full_day_and_special_hours():
    assert evaluate(LONDON, utc(2026, 12, 25, 10)).status == "holiday"
    verdict = evaluate(LONDON, utc(2026, 12, 24, 11))
    assert verdict.status == "open" and verdict.holiday == "Christmas Eve"
    assert evaluate(LONDON, utc(2026, 12, 24, 13)).status == "holiday"


def test_local_time_is_reported_in_the_schedule_zone():
    verdict = evaluate(NEW_YORK, utc(2026, 11, 2, 13, 30))
    assert verdict.local_time.isoformat() == "2026-11-02T08:30:00-05:00"


def test_next_opening_across_the_october_change_weekend():
    # Friday 19:00 BST -> Sunday 00:00 (the short night rule) -> then Monday 08:00 GMT
    assert next_opening(LONDON, utc(2026, 10, 23, 18)).isoformat() == "2026-10-25T00:00:00+01:00"
    assert next_opening(LONDON, utc(2026, 10, 25, 3)).isoformat() == "2026-10-26T08:00:00+00:00"


def test_naive_instants_are_read_as_utc():
    assert evaluate(NEW_YORK, datetime(2026, 3, 9, 13, 0)).status == "open"


@pytest.mark.parametrize(
    ("at", "child"),
    [
        (utc(2026, 10, 23, 7, 30), "consent"),  # Fri 08:30 BST: open
        (utc(2026, 10, 26, 7, 30), "closed_greeting"),  # Mon 07:30 GMT: not yet
        (utc(2026, 12, 25, 12), "holiday_greeting"),
    ],
)
def test_example_main_flow_branches_on_office_hours(tmp_path, at, child):
    h = Harness(tmp_path, clock=FakeClock(at))
    trace = h.run(h.call(inputs=[]))
    assert trace.path[:2] == ["hours", child]
