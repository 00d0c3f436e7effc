"""Shared building blocks for the configuration models.

Constrained strings use validators with plain-language messages instead of regex ``pattern``
constraints, because an admin reading ``conf/pbx.yaml:12:5: ... expected an extension of digits``
can fix it, while ``String should match pattern '^[0-9]{1,15}$'`` sends them to the source.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints

__all__ = [
    "PATTERN_DESCRIPTIONS",
    "ConfigModel",
    "DialCode",
    "DigitString",
    "DtmfKey",
    "HostPort",
    "Hostname",
    "Identifier",
    "PhoneNumber",
    "parse_host_port",
]


class ConfigModel(BaseModel):
    """Base for every configuration model: immutable, and unknown keys are errors (typos caught)."""

    # coerce_numbers_to_str: `extension: 1001` (an int in YAML) is the string "1001". The YAML loader
    # keeps leading-zero numbers such as 0123 as strings, so no digits are lost on the way.
    model_config = ConfigDict(frozen=True, extra="forbid", coerce_numbers_to_str=True)


def _short(value: str, limit: int = 40) -> str:
    return value if len(value) <= limit else value[: limit - 3] + "..."


PATTERN_DESCRIPTIONS: dict[str, str] = {}
"""Anchored regex -> what it means to an admin; ``locate`` turns pattern errors into these words."""


def _pattern(regex: str, expected: str) -> StringConstraints:
    # Checked by pydantic-core's Rust regex (no Python call per value: 10,000 agents stay fast).
    anchored = f"^(?:{regex})$"
    PATTERN_DESCRIPTIONS[anchored] = expected
    return StringConstraints(pattern=anchored)


Identifier = Annotated[
    str,
    _pattern(
        r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}",
        "an id of letters, digits, '_', '.' or '-' (at most 64, starting with a letter or digit)",
    ),
]
"""Names other entries refer to (agent ids, group ids, flow names): safe in Redis keys and XML."""

DigitString = Annotated[str, _pattern(r"[0-9]{1,15}", "1 to 15 digits")]
"""An internal number dialled from a phone: extension, voicemail box number."""

DialCode = Annotated[str, _pattern(r"[0-9*#]{1,15}", "a dial code of digits, '*' and '#' (e.g. \"*21\")")]
"""Something a phone can dial, including star codes."""

DtmfKey = Annotated[str, _pattern(r"[0-9*#]", "one DTMF key (0-9, * or #)")]

PhoneNumber = Annotated[
    str, _pattern(r"\+?[0-9]{2,15}", "a phone number: E.164 (+442071234567) or national digits, no spaces")
]

_HOST_PORT = re.compile(r"(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.\-]+):(?P<port>[0-9]{1,5})")


def parse_host_port(value: str) -> tuple[str, int]:
    """Split ``host:port`` (``[v6]:port`` too); ValueError with an admin-readable reason."""
    match = _HOST_PORT.fullmatch(value)
    port = int(match["port"]) if match else 0
    if not match or not 1 <= port <= 65535:
        raise ValueError(f"expected host:port (e.g. 127.0.0.1:8084), got {_short(value)!r}")
    return match["host"].strip("[]"), port


def _check_host_port(value: str) -> str:
    parse_host_port(value)
    return value


Hostname = Annotated[
    str,
    _pattern(
        r"[A-Za-z0-9][A-Za-z0-9\-]{0,62}(?:\.[A-Za-z0-9][A-Za-z0-9\-]{0,62})*",
        "a domain name such as pbx.example.com",
    ),
]

HostPort = Annotated[str, AfterValidator(_check_host_port)]
