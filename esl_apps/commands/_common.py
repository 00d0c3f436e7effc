"""Argument pieces every command shares, so that `--conf`, `--flows` and times read the same
everywhere."""

from __future__ import annotations

import argparse
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

_RELATIVE = re.compile(r"^(\d+)([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--conf",
        type=Path,
        default=None,
        help="directory holding pbx.yaml and dispositions.yaml (default: the shipped example)",
    )
    parser.add_argument(
        "--flows",
        type=Path,
        default=None,
        help="directory holding the IVR flows *.yaml (default: the shipped example)",
    )


def parse_when(text: str, now: datetime | None = None) -> int:
    """ISO date or date-time (no offset: UTC), or a span back from now (``90m``, ``24h``, ``7d``,
    ``2w``) -> epoch ms. Raises ``argparse.ArgumentTypeError`` with an example of what is accepted."""
    now = now or datetime.now(UTC)
    match = _RELATIVE.match(text.strip())
    if match:
        moment = now - timedelta(**{_UNITS[match[2]]: int(match[1])})
    else:
        try:
            moment = datetime.fromisoformat(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected an ISO date or date-time (2026-11-23, 2026-11-23T08:00) or a span such as 24h "
                f"or 7d, got {text!r}"
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)
