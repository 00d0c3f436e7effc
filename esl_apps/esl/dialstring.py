"""FreeSWITCH bridge dial strings from switch-agnostic BridgeTargets (pure, no I/O).

Shape: ``{call vars}[leg vars]endpoint,[leg vars]endpoint`` rings legs at once; ``|`` instead of ``,``
rings them one after the other. Every leg gets ``leg_timeout`` (and ``leg_delay_start`` when delayed);
a variable whose value is the same on every leg is hoisted into ``{}`` (FreeSWITCH applies ``{}`` vars to
each leg, so this changes nothing but keeps the string short and reproduces what the recorded calls sent:
``{leg_timeout=15}a,b`` and ``[leg_timeout=4]a|[leg_timeout=10]b``).

Escaping follows FreeSWITCH's parser (switch_event_create_brackets / switch_separate_string and the
originate leg split, which leaves a backslash-escaped comma alone): a comma inside a value is written
``\\,``. Characters the parsers would misread in any position (quotes, backslashes, brackets, braces,
``|``, ``${`` expansion, line breaks) are refused with ValueError instead of being silently mangled.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from esl_apps.call import BridgeTarget

_KEY = re.compile(r"^[A-Za-z0-9_.\-]+$")
_BAD_VALUE_CHARS = frozenset("'\"\\[]{}|\r\n\x00")
_BAD_ENDPOINT_CHARS = frozenset(",|[]{}'\"\\ \t\r\n\x00")


def escape_value(value: str) -> str:
    """A channel-variable value safe inside ``{}`` or ``[]``: commas become ``\\,``."""
    if not isinstance(value, str):
        raise ValueError(f"dial string values must be strings, got {type(value).__name__}")
    if value == "":
        # FreeSWITCH silently drops `name=` (the split yields one field), so refuse it loudly.
        raise ValueError("empty dial string variable values are ignored by FreeSWITCH")
    bad = sorted({c for c in value if c in _BAD_VALUE_CHARS})
    if bad or "${" in value:
        shown = bad or ["${"]
        raise ValueError(f"dial string value {value!r} has characters FreeSWITCH would misparse: {shown}")
    if value != value.strip(" "):
        raise ValueError(f"dial string value {value!r} has leading/trailing blanks FreeSWITCH strips")
    return value.replace(",", "\\,")


def _check_key(key: str) -> str:
    if not _KEY.match(key or ""):
        raise ValueError(f"invalid channel variable name {key!r} in a dial string")
    return key


def check_endpoint(endpoint: str) -> str:
    if not endpoint or any(c in _BAD_ENDPOINT_CHARS for c in endpoint) or "/" not in endpoint:
        raise ValueError(
            f"invalid bridge endpoint {endpoint!r}: expected e.g. user/1001 or sofia/gateway/gw/123, "
            "without commas, pipes, brackets, quotes or blanks"
        )
    return endpoint


def leg_variables(target: BridgeTarget) -> dict[str, str]:
    """The per-leg variables a target needs, in the order they are written."""
    if target.timeout_s <= 0:
        raise ValueError(f"bridge target {target.endpoint!r}: timeout_s must be positive")
    if target.delay_s < 0:
        raise ValueError(f"bridge target {target.endpoint!r}: delay_s must not be negative")
    out = {"leg_timeout": str(int(target.timeout_s))}
    if target.delay_s:
        # FreeSWITCH adds the delay to leg_timeout itself, so timeout_s stays "ring time once started".
        out["leg_delay_start"] = str(int(target.delay_s))
    for key, value in target.leg_vars.items():
        out[_check_key(key)] = value
    return out


def _group(pairs: Sequence[tuple[str, str]], open_: str, close: str) -> str:
    if not pairs:
        return ""
    return open_ + ",".join(f"{k}={escape_value(v)}" for k, v in pairs) + close


def build_dial_string(
    targets: Sequence[BridgeTarget],
    *,
    simultaneous: bool = True,
    call_vars: Mapping[str, str] | None = None,
) -> str:
    """The ``bridge`` argument that rings ``targets`` (all at once, or in order when not simultaneous)."""
    if not targets:
        raise ValueError("bridge needs at least one target")
    call_vars = dict(call_vars or {})
    for key in call_vars:
        _check_key(key)
    per_leg = [leg_variables(t) for t in targets]
    for t in targets:
        check_endpoint(t.endpoint)

    # Hoist a variable into {} when every leg carries it with the same value and the caller's call_vars
    # do not also name it (a duplicate in {} would be ambiguous).
    first = per_leg[0]
    hoisted = [
        (k, v)
        for k, v in first.items()
        if k not in call_vars and all(leg.get(k) == v for leg in per_leg[1:])
    ]
    hoisted_keys = {k for k, _ in hoisted}
    head = _group([*call_vars.items(), *hoisted], "{", "}")
    legs = [
        _group([(k, v) for k, v in leg.items() if k not in hoisted_keys], "[", "]") + t.endpoint
        for t, leg in zip(targets, per_leg, strict=True)
    ]
    return head + ("," if simultaneous else "|").join(legs)
