"""The disposition record (RECORDS.md, stream ``dispositions``) and what it is built from.

The wrap-up leg knows its call only through channel variables the ring-group runtime put on the
agent's leg before ringing it. Several spellings are accepted so that either runtime naming works,
with FreeSWITCH's own ``bridge_uuid``/``last_bridge_to`` (the customer's leg, trace 04a) as the last
resort for the customer call, and ``pre_transfer_caller_id_number`` (the customer's caller ID, kept
by the transfer to the wrap-up extension) for the number.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from esl_apps.config.dispositions import Codebook
from esl_apps.features.dispositions_codes import categories_of
from esl_apps.features.dispositions_hotkeys import HotkeyNote

__all__ = ["CSV_FIELDS", "WrapupLink", "build_record", "csv_row", "link_from_variables"]

CUSTOMER_VARS = ("esl_customer_uuid", "esl_apps_customer_uuid", "bridge_uuid", "last_bridge_to")
AGENT_VARS = ("esl_agent_id", "esl_apps_agent")
GROUP_VARS = ("esl_group", "esl_apps_group")
NUMBER_VARS = ("esl_customer_number", "esl_apps_customer_number", "pre_transfer_caller_id_number")
OFFERED_VARS = ("esl_offered_at", "esl_apps_offered_at")
REQUEST_VARS = ("esl_callback_request", "esl_apps_callback_request")


def _first(variables: Mapping[str, str], names: Iterable[str]) -> str | None:
    for name in names:
        value = variables.get(name)
        if value:
            return value
    return None


def _ms(value: str | None) -> int | None:
    try:
        return int(float(value)) if value else None
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class WrapupLink:
    """Which customer call, agent and group a wrap-up belongs to."""

    customer_uuid: str | None
    agent: str | None = None
    group: str | None = None
    number: str | None = None
    offered_at_ms: int | None = None
    callback_request: str | None = None

    def with_note(self, note: HotkeyNote | None) -> WrapupLink:
        """Fill what the agent leg did not carry from what the caller's side published."""
        if note is None:
            return self
        return replace(
            self,
            agent=self.agent or note.agent,
            group=self.group or note.group,
            number=self.number or note.number,
            offered_at_ms=self.offered_at_ms or note.offered_at_ms,
        )


def link_from_variables(variables: Mapping[str, str]) -> WrapupLink:
    return WrapupLink(
        customer_uuid=_first(variables, CUSTOMER_VARS),
        agent=_first(variables, AGENT_VARS),
        group=_first(variables, GROUP_VARS),
        number=_first(variables, NUMBER_VARS),
        offered_at_ms=_ms(_first(variables, OFFERED_VARS)),
        callback_request=_first(variables, REQUEST_VARS),
    )


def build_record(
    codebook: Codebook,
    link: WrapupLink,
    codes: Sequence[str],
    *,
    source: str,
    flagged: bool,
    wrapup_s: float,
    system_outcome: str,
    captured_at: int,
    hotkey_codes: Sequence[str] = (),
    confirmed: bool = True,
    callback_at: datetime | None = None,
    ending: str | None = None,
    agent_leg: str | None = None,
    missing: Sequence[str] = (),
    callback_problem: str | None = None,
) -> dict[str, Any]:
    """One ``dispositions`` record: the RECORDS.md fields first, then what helps a supervisor."""
    record: dict[str, Any] = {
        "call_uuid": link.customer_uuid,
        "agent": link.agent,
        "group": link.group,
        "codes": list(codes),
        "categories": categories_of(codebook, codes),
        "source": source,
        "flagged": flagged,
        "wrapup_s": round(wrapup_s, 3),
        "captured_at": captured_at,
        "system_outcome": system_outcome,
        "offered_at": link.offered_at_ms,
        "labels": {c: found.label for c in codes if (found := codebook.lookup(c)) is not None},
    }
    if hotkey_codes:
        record["hotkey_codes"] = list(hotkey_codes)
    if not confirmed:
        record["confirmed"] = False
    if callback_at is not None:
        record["callback_at"] = int(callback_at.timestamp() * 1000)
    if callback_problem:
        record["callback_problem"] = callback_problem
    if missing:
        record["missing"] = list(missing)
    if ending:
        record["ending"] = ending
    if agent_leg:
        record["agent_leg"] = agent_leg
    if link.number:
        record["number"] = link.number
    if link.callback_request:
        record["callback_request"] = link.callback_request
    return record


CSV_FIELDS = (
    "captured_at", "call_uuid", "agent", "group", "codes", "source", "flagged", "wrapup_s",
    "system_outcome", "offered_at", "callback_at", "number",
)


def _iso(ms: Any) -> str:
    if ms in (None, ""):
        return ""
    return datetime.fromtimestamp(int(ms) / 1000, UTC).isoformat(timespec="seconds")


def csv_row(record: Mapping[str, Any], categories: Sequence[str]) -> list[str]:
    """One CSV line: times in ISO 8601 UTC, codes space-separated, then one column per category."""
    values: list[str] = []
    for name in CSV_FIELDS:
        value = record.get(name)
        if name in ("captured_at", "offered_at", "callback_at"):
            values.append(_iso(value))
        elif name == "codes":
            values.append(" ".join(str(c) for c in value or ()))
        elif isinstance(value, bool):
            values.append("true" if value else "false")
        else:
            values.append("" if value is None else str(value))
    cats = record.get("categories") or {}
    for name in categories:
        value = cats.get(name)
        values.append(" ".join(value) if isinstance(value, list) else str(value or ""))
    return values
