"""Counting periods for fewest_calls ("calls since the reset"): today and this week.

A reset is a change of period id, not a job that zeroes counters: the count of an agent whose
stored day id is not today's is zero. Nothing has to run at midnight, and a node that was down at
midnight cannot miss the reset. Ids use the centre's time zone so "daily" means the centre's day.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, tzinfo
from typing import Literal

ResetMode = Literal["daily", "weekly", "never"]
RESET_MODES: tuple[str, ...] = ("daily", "weekly", "never")


def period_ids(epoch_ms: int | None = None, tz: tzinfo | None = None) -> tuple[str, str]:
    """(day id, week id) for ``epoch_ms`` (default now) in ``tz`` (default the host's zone)."""
    seconds = time.time() if epoch_ms is None else epoch_ms / 1000
    day = datetime.fromtimestamp(seconds, tz).date()
    monday = day - timedelta(days=day.weekday())
    return day.isoformat(), f"W{monday.isoformat()}"


def check_mode(mode: str) -> ResetMode:
    if mode not in RESET_MODES:
        raise ValueError(f"fewest_calls reset must be one of {', '.join(RESET_MODES)}, got {mode!r}")
    return mode  # type: ignore[return-value]
