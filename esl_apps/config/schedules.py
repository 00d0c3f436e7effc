"""Business hours: weekly opening times, holidays and the timezone they are written in.

Hours are local to the schedule's own timezone (a London office stays 08:00-18:00 across the
clock change), so :meth:`Schedule.is_open` converts the instant it is given before comparing.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from functools import cache
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field, field_validator, model_validator

from esl_apps.config.types import ConfigModel

__all__ = ["DAY_NAMES", "Holiday", "Schedule", "parse_day_spec", "parse_hours"]

DAY_NAMES: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])-([01][0-9]|2[0-4]):([0-5][0-9])")


def parse_hours(value: str) -> tuple[int, int]:
    """``"08:00-18:00"`` -> minutes since midnight ``(480, 1080)``; ``24:00`` closes the day."""
    match = _HOURS.fullmatch(value.replace(" ", ""))
    if not match:
        raise ValueError(f'expected opening hours as HH:MM-HH:MM (e.g. "08:00-18:00"), got {value!r}')
    start = int(match[1]) * 60 + int(match[2])
    end = int(match[3]) * 60 + int(match[4])
    if end > 24 * 60:
        raise ValueError(f"{value!r}: the latest closing time is 24:00")
    if end <= start:
        raise ValueError(
            f"{value!r}: closing time must be after opening time "
            '(split a range past midnight into two days, e.g. mon: ["22:00-24:00"], tue: ["00:00-06:00"])'
        )
    return start, end


def _check_hours(value: str) -> str:
    parse_hours(value)
    return value


Hours = Annotated[str, AfterValidator(_check_hours)]


def parse_day_spec(spec: str) -> tuple[int, ...]:
    """``"mon-fri"`` / ``"sat,sun"`` / ``"wed"`` -> weekday numbers (Monday is 0)."""
    days: list[int] = []
    for part in spec.lower().replace(" ", "").split(","):
        first, sep, last = part.partition("-")
        if first not in DAY_NAMES or (sep and last not in DAY_NAMES):
            raise ValueError(
                f"expected a day (mon, tue, wed, thu, fri, sat, sun), a range such as mon-fri "
                f"or a list such as sat,sun; got {spec!r}"
            )
        start = DAY_NAMES.index(first)
        stop = DAY_NAMES.index(last) if sep else start
        if stop < start:
            raise ValueError(f"{spec!r}: a day range runs forwards within one week (e.g. mon-fri)")
        days.extend(range(start, stop + 1))
    return tuple(days)


def _check_day_spec(value: str) -> str:
    parse_day_spec(value)
    return value


DaySpec = Annotated[str, AfterValidator(_check_day_spec)]


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


class Holiday(ConfigModel):
    """A closed day, or a day with special hours (``hours`` empty = closed all day)."""

    date: date
    hours: tuple[Hours, ...] = ()
    name: str = ""

    @model_validator(mode="before")
    @classmethod
    def _bare_date(cls, data: Any) -> Any:
        # `- 2026-12-25` (a bare date) is the common case; expand it to the mapping form.
        if isinstance(data, date | str) and not isinstance(data, datetime):
            return {"date": data}
        return data


class Schedule(ConfigModel):
    timezone: str
    weekly: dict[DaySpec, tuple[Hours, ...]] = Field(default_factory=dict)
    holidays: tuple[Holiday, ...] = ()

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            _zone(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise ValueError(
                f"unknown timezone {value!r} "
                "(expected an IANA name such as Europe/London or America/New_York)"
            ) from None
        return value

    @field_validator("weekly")
    @classmethod
    def _each_day_once(cls, weekly: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        seen: dict[int, str] = {}
        for spec in weekly:
            for day in parse_day_spec(spec):
                if day in seen:
                    raise ValueError(f"{DAY_NAMES[day]} is listed twice (in {seen[day]!r} and {spec!r})")
                seen[day] = spec
        return weekly

    @field_validator("holidays")
    @classmethod
    def _each_date_once(cls, holidays: tuple[Holiday, ...]) -> tuple[Holiday, ...]:
        seen: set[date] = set()
        for holiday in holidays:
            if holiday.date in seen:
                raise ValueError(f"holiday {holiday.date.isoformat()} is listed twice")
            seen.add(holiday.date)
        return holidays

    @property
    def zone(self) -> ZoneInfo:
        return _zone(self.timezone)

    def hours_on(self, day: date) -> tuple[tuple[int, int], ...]:
        """Opening ranges (minutes since local midnight) for a local date; () when closed."""
        for holiday in self.holidays:
            if holiday.date == day:
                return tuple(parse_hours(h) for h in holiday.hours)
        weekday = day.weekday()
        for spec, hours in self.weekly.items():
            if weekday in parse_day_spec(spec):
                return tuple(parse_hours(h) for h in hours)
        return ()

    def is_open(self, at: datetime) -> bool:
        """Whether the business is open at instant ``at`` (naive datetimes are taken as UTC)."""
        if at.tzinfo is None:
            at = at.replace(tzinfo=_zone("UTC"))
        local = at.astimezone(self.zone)
        minute = local.hour * 60 + local.minute
        return any(start <= minute < end for start, end in self.hours_on(local.date()))

    def local_time(self, at: datetime) -> time:
        return at.astimezone(self.zone).time()
