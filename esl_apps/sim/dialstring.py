"""Dial strings as ``bridge`` and ``originate`` take them.

``{a=1,b=2}leg1,leg2|leg3`` : ``{}`` variables apply to every leg, ``[]`` to one leg; ``,`` rings
legs together, ``|`` tries the next group when the previous one failed. Timeouts follow
switch_ivr_originate: ``leg_timeout`` ends one leg with ALLOTTED_TIMEOUT, ``originate_timeout``
(default 60 s) ends the group with NO_ANSWER, ``leg_delay_start`` delays a leg's ringing.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Leg:
    endpoint: str
    variables: dict[str, str] = field(default_factory=dict)

    @property
    def leg_timeout(self) -> float | None:
        value = self.variables.get("leg_timeout") or self.variables.get("call_timeout")
        return number(value)

    @property
    def delay_start(self) -> float:
        return number(self.variables.get("leg_delay_start")) or 0.0

    @property
    def user(self) -> str:
        """The dialled user part: what becomes the B-leg's Destination-Number (``agent1``)."""
        return endpoint_user(self.endpoint)


@dataclass(frozen=True)
class Group:
    legs: tuple[Leg, ...]
    variables: dict[str, str]

    @property
    def originate_timeout(self) -> float:
        return number(self.variables.get("originate_timeout")) or 60.0


def number(value: str | None) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except ValueError:
        return None


def endpoint_user(endpoint: str) -> str:
    parts = endpoint.split("/")
    tail = parts[-1] if len(parts) > 1 else endpoint
    if endpoint.startswith("loopback/") and len(parts) > 1:
        tail = parts[1]
    return tail.split("@", 1)[0]


def split_top(text: str, sep: str) -> list[str]:
    """Split on ``sep`` outside ``{}``/``[]``/``<>`` blocks."""
    out: list[str] = []
    depth = 0
    current: list[str] = []
    for ch in text:
        if ch in "{[<":
            depth += 1
        elif ch in "}]>" and depth:
            depth -= 1
        if ch == sep and depth == 0:
            out.append("".join(current))
            current = []
            continue
        current.append(ch)
    out.append("".join(current))
    return out


def parse_vars(body: str) -> dict[str, str]:
    result: dict[str, str] = {}
    for item in split_top(body, ","):
        if not item.strip():
            continue
        key, _, value = item.partition("=")
        result[key.strip()] = value
    return result


def _take_block(text: str, open_ch: str, close_ch: str) -> tuple[dict[str, str], str]:
    text = text.lstrip()
    variables: dict[str, str] = {}
    while text.startswith(open_ch):
        end = text.find(close_ch)
        if end < 0:
            break
        variables.update(parse_vars(text[1:end]))
        text = text[end + 1 :].lstrip()
    return variables, text


def parse(dialstring: str) -> list[Group]:
    """Groups to try in order; each group's legs ring at the same time."""
    global_vars, rest = _take_block(dialstring.strip(), "{", "}")
    groups: list[Group] = []
    for group_text in split_top(rest, "|"):
        group_vars, group_text = _take_block(group_text, "{", "}")
        merged = {**global_vars, **group_vars}
        legs = []
        for leg_text in split_top(group_text, ","):
            leg_vars, endpoint = _take_block(leg_text, "[", "]")
            endpoint = endpoint.strip()
            if endpoint:
                legs.append(Leg(endpoint, {**merged, **leg_vars}))
        if legs:
            groups.append(Group(tuple(legs), merged))
    return groups
