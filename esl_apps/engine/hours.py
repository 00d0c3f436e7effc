"""Business-hours decisions for ``branch_time``: open, closed, or a holiday.

Opening hours are wall-clock times in the schedule's own timezone, so an instant is converted to
that zone before it is compared: a London office opening at 08:00 opens at 08:00 GMT in winter
and 08:00 BST in summer, and a call at 07:30 UTC on the Monday after the October clock change is
(correctly) before opening although it was after opening a week earlier. A holiday with special
hours is ``open`` inside them and ``holiday`` outside, so the caller hears the holiday message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from esl_apps.config.schedules import Holiday, Schedule

__all__ = ["HoursStatus", "HoursVerdict", "evaluate", "next_opening"]

HoursStatus = Literal["open", "closed", "holiday"]
_UTC = ZoneInfo("UTC")


@dataclass(frozen=True, slots=True)
class HoursVerdict:
    status: HoursStatus
    local_time: datetime  # the instant in the schedule's zone (what the trace shows)
    holiday: str | None = None  # the holiday's name (or its date) when today is one


def _holiday_on(schedule: Schedule, day: date) -> Holiday | None:
    return next((h for h in schedule.holidays if h.date == day), None)


def evaluate(schedule: Schedule, at: datetime) -> HoursVerdict:
    if at.tzinfo is None:  # a naive instant is ambiguous; UTC is the only safe reading
        at = at.replace(tzinfo=_UTC)
    local = at.astimezone(schedule.zone)
    holiday = _holiday_on(schedule, local.date())
    name = (holiday.name or holiday.date.isoformat()) if holiday else None
    if schedule.is_open(at):
        return HoursVerdict("open", local, name)
    return HoursVerdict("holiday" if holiday else "closed", local, name)


def next_opening(schedule: Schedule, at: datetime, *, horizon_days: int = 14) -> datetime | None:
    """The next local instant the schedule opens (for "we open at ..." prompts); None if never.

    Walks local dates, so a day that is 23 or 25 hours long (clock change) is still one day.
    """
    if at.tzinfo is None:
        at = at.replace(tzinfo=_UTC)
    zone = schedule.zone
    local = at.astimezone(zone)
    for offset in range(horizon_days + 1):
        day = local.date() + timedelta(days=offset)
        for start, _end in schedule.hours_on(day):
            candidate = datetime(day.year, day.month, day.day, start // 60, start % 60, tzinfo=zone)
            # A start inside the spring-forward gap does not exist; normalise it through UTC.
            candidate = candidate.astimezone(_UTC).astimezone(zone)
            if candidate > local:
                return candidate
    return None
