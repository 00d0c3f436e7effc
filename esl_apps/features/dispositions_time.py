"""The callback time an agent keys at wrap-up: minutes from now, or a date and time.

Agents key digits on a phone, so the two forms are told apart by length: up to 5 digits is an
offset in minutes (``90#`` = in an hour and a half), 12 digits is ``YYYYMMDDHHMM`` in the
centre's time zone (``202611241430#``). A time that is past, too far ahead, or outside the
callback business hours is refused with a reason, and the agent is asked again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from esl_apps.config.schedules import Schedule

__all__ = ["DEFAULT_HORIZON_DAYS", "TimeCheck", "parse_callback_time"]

DEFAULT_HORIZON_DAYS = 90
_MAX_OFFSET_DIGITS = 5


@dataclass(frozen=True, slots=True)
class TimeCheck:
    at: datetime | None  # aware (UTC) when ok
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None and self.at is not None


def parse_callback_time(
    digits: str,
    now: datetime,
    *,
    tz: tzinfo = UTC,
    schedule: Schedule | None = None,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
) -> TimeCheck:
    """``now`` must be aware; ``tz`` is the zone a keyed date/time is read in."""
    if not digits.isascii() or not digits.isdigit():
        return TimeCheck(None, "not a number")
    if len(digits) <= _MAX_OFFSET_DIGITS:
        minutes = int(digits)
        if minutes < 1:
            return TimeCheck(None, "an offset must be at least 1 minute")
        if minutes > horizon_days * 1440:
            return TimeCheck(None, f"more than {horizon_days} days ahead")
        at = (now + timedelta(minutes=minutes)).astimezone(UTC)
    elif len(digits) == 12:
        try:
            local = datetime(
                int(digits[0:4]), int(digits[4:6]), int(digits[6:8]), int(digits[8:10]), int(digits[10:12]),
                tzinfo=tz,
            )
        except ValueError:
            return TimeCheck(None, "not a valid date and time")
        at = local.astimezone(UTC)
        if at <= now:
            return TimeCheck(None, "in the past")
        if at > now + timedelta(days=horizon_days):
            return TimeCheck(None, f"more than {horizon_days} days ahead")
    else:
        return TimeCheck(None, "expected minutes (up to 5 digits) or YYYYMMDDHHMM (12 digits)")
    if schedule is not None and not schedule.is_open(at):
        return TimeCheck(None, "outside business hours")
    return TimeCheck(at)
