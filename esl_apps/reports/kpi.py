"""Call-centre KPIs computed from the record streams (see docs/reports.md for every definition).

The figures are computed from plain dicts so the same code serves Redis streams, JSONL exports and
hand-written fixtures; nothing here does I/O. One pass over the interactions accumulates every
figure per scope (all, per group, per agent), which keeps a million-record report within seconds.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

ANSWERED = "answered"
ABANDONED = "abandoned"


@dataclass(frozen=True, slots=True)
class ReportOptions:
    """How the figures are counted; the defaults are the usual 80/20 contact-centre conventions."""

    service_level_s: float = 20.0  # answered within this many seconds counts as "in service level"
    service_level_target: float = 0.80
    short_abandon_s: float = 0.0  # abandons quicker than this are left out of offered/SL/abandon rate
    answer_rate_target: float = 0.80
    response_time_target_s: float = 28.0
    group: str | None = None
    agent: str | None = None
    since_ms: int | None = None
    until_ms: int | None = None


@dataclass(slots=True)
class ScopeFigures:
    """Running totals for one scope; ratios are derived at the end so they are never stale."""

    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    short_abandoned: int = 0
    overflowed: int = 0
    voicemail: int = 0
    callback: int = 0
    unanswered_other: int = 0
    answered_in_sl: int = 0
    wait_answered_s: float = 0.0
    wait_all_s: float = 0.0
    talk_s: float = 0.0
    hold_s: float = 0.0
    wrapup_s: float = 0.0
    handled_with_wrapup: int = 0

    @property
    def answer_rate(self) -> float | None:
        return _ratio(self.answered, self.offered)

    @property
    def abandon_rate(self) -> float | None:
        return _ratio(self.abandoned, self.offered)

    @property
    def service_level(self) -> float | None:
        # Abandons count against the service level (answered in time / (answered + abandoned)).
        return _ratio(self.answered_in_sl, self.answered + self.abandoned)

    @property
    def asa_s(self) -> float | None:
        return _ratio(self.wait_answered_s, self.answered)

    @property
    def average_response_s(self) -> float | None:
        return _ratio(self.wait_all_s, self.offered)

    @property
    def aht_s(self) -> float | None:
        return _ratio(self.talk_s + self.hold_s + self.wrapup_s, self.answered)

    def as_dict(self) -> dict[str, Any]:
        return {
            "offered": self.offered,
            "answered": self.answered,
            "answer_rate": self.answer_rate,
            "abandoned": self.abandoned,
            "abandon_rate": self.abandon_rate,
            "short_abandoned": self.short_abandoned,
            "overflowed": self.overflowed,
            "voicemail": self.voicemail,
            "callback": self.callback,
            "asa_s": self.asa_s,
            "service_level": self.service_level,
            "average_response_s": self.average_response_s,
            "aht_s": self.aht_s,
            "talk_s": self.talk_s,
            "hold_s": self.hold_s,
            "wrapup_s": self.wrapup_s,
        }


@dataclass(slots=True)
class Report:
    options: ReportOptions
    total: ScopeFigures = field(default_factory=ScopeFigures)
    groups: dict[str, ScopeFigures] = field(default_factory=lambda: defaultdict(ScopeFigures))
    agents: dict[str, ScopeFigures] = field(default_factory=lambda: defaultdict(ScopeFigures))
    # category -> code -> count
    dispositions: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    flagged_default_codes: int = 0
    callbacks_requested: int = 0
    callbacks_completed: int = 0
    callbacks_failed: int = 0


def _ratio(numerator: float, denominator: float) -> float | None:
    return None if not denominator else numerator / denominator


def _seconds(later_ms: Any, earlier_ms: Any) -> float:
    return max(0.0, (int(later_ms) - int(earlier_ms)) / 1000.0)


def _in_window(record: Mapping[str, Any], key: str, options: ReportOptions) -> bool:
    at = record.get(key)
    if at is None:
        return False
    at = int(at)
    if options.since_ms is not None and at < options.since_ms:
        return False
    return options.until_ms is None or at <= options.until_ms


def _count_interaction(scope: ScopeFigures, rec: Mapping[str, Any], options: ReportOptions) -> None:
    outcome = rec.get("outcome")
    offered_at = rec["offered_at"]
    if outcome == ABANDONED:
        waited = _seconds(rec.get("ended_at", offered_at), offered_at)
        if waited < options.short_abandon_s:
            scope.short_abandoned += 1
            return
        scope.offered += 1
        scope.abandoned += 1
        scope.wait_all_s += waited
        return
    scope.offered += 1
    if outcome == ANSWERED and rec.get("answered_at") is not None:
        wait = _seconds(rec["answered_at"], offered_at)
        scope.answered += 1
        scope.wait_answered_s += wait
        scope.wait_all_s += wait
        scope.answered_in_sl += wait <= options.service_level_s
        scope.talk_s += float(rec.get("talk_s") or 0.0)
        scope.hold_s += float(rec.get("hold_s") or 0.0)
        return
    scope.wait_all_s += _seconds(rec.get("ended_at", offered_at), offered_at)
    if outcome == "overflow":
        scope.overflowed += 1
    elif outcome == "voicemail":
        scope.voicemail += 1
    elif outcome == "callback":
        scope.callback += 1
    else:
        scope.unanswered_other += 1


def compute_report(
    interactions: Iterable[Mapping[str, Any]],
    dispositions: Iterable[Mapping[str, Any]] = (),
    callbacks: Iterable[Mapping[str, Any]] = (),
    options: ReportOptions | None = None,
) -> Report:
    """Fold the three record streams into one :class:`Report` for the options' window and filters.

    Each stream is folded on its own (a disposition carries its call's group, agent and offer
    time), so no join is needed and the streams can be read and folded in any order.
    """
    options = options or ReportOptions()
    report = Report(options)
    fold_interactions(report, interactions)
    fold_dispositions(report, dispositions)
    fold_callbacks(report, callbacks, options)
    return report


def fold_interactions(report: Report, interactions: Iterable[Mapping[str, Any]]) -> None:
    options = report.options
    for rec in interactions:
        if not _in_window(rec, "offered_at", options):
            continue
        group, agent = rec.get("group"), rec.get("agent")
        if options.group and group != options.group:
            continue
        if options.agent and agent != options.agent:
            continue
        _count_interaction(report.total, rec, options)
        if group:
            _count_interaction(report.groups[group], rec, options)
        if agent and rec.get("outcome") == ANSWERED:
            _count_interaction(report.agents[agent], rec, options)


def fold_dispositions(report: Report, dispositions: Iterable[Mapping[str, Any]]) -> None:
    """Count codes per category and add wrap-up time to the AHT of the call's group and agent.

    Only agent and default codes carry wrap-up time; one record per call does (the first), so a
    hotkey code plus a wrap-up code do not count the wrap-up twice.
    """
    options = report.options
    wrapup_counted: set[str] = set()
    for rec in dispositions:
        when = "offered_at" if rec.get("offered_at") is not None else "captured_at"
        if not _in_window(rec, when, options):
            continue
        group, agent = rec.get("group"), rec.get("agent")
        if options.group and group != options.group:
            continue
        if options.agent and agent != options.agent:
            continue
        for category, code in (rec.get("categories") or {}).items():
            for one in code if isinstance(code, list) else [code]:
                report.dispositions[category][str(one)] += 1
        report.flagged_default_codes += bool(rec.get("flagged"))
        wrapup = float(rec.get("wrapup_s") or 0.0)
        call_uuid = str(rec.get("call_uuid"))
        if not wrapup or call_uuid in wrapup_counted:
            continue
        wrapup_counted.add(call_uuid)
        scopes = [report.total]
        if group:
            scopes.append(report.groups[group])
        if agent:
            scopes.append(report.agents[agent])
        for scope in scopes:
            scope.wrapup_s += wrapup
            scope.handled_with_wrapup += 1


def fold_callbacks(report: Report, callbacks: Iterable[Mapping[str, Any]], options: ReportOptions) -> None:
    for rec in callbacks:
        if not _in_window(rec, "at", options):
            continue
        if options.group and rec.get("group") != options.group:
            continue
        event = rec.get("event")
        if event == "requested":
            report.callbacks_requested += 1
        elif event == "completed":
            report.callbacks_completed += 1
        elif event == "failed":
            report.callbacks_failed += 1


def _add_figures(into: ScopeFigures, other: ScopeFigures) -> None:
    for name in ScopeFigures.__slots__:
        setattr(into, name, getattr(into, name) + getattr(other, name))


def merge_reports(into: Report, other: Report) -> Report:
    """Add ``other``'s counts to ``into``: every figure is a sum, so partial reports folded from
    different streams (or processes) combine exactly."""
    _add_figures(into.total, other.total)
    for name, figs in other.groups.items():
        _add_figures(into.groups[name], figs)
    for name, figs in other.agents.items():
        _add_figures(into.agents[name], figs)
    for category, counts in other.dispositions.items():
        into.dispositions[category].update(counts)
    into.flagged_default_codes += other.flagged_default_codes
    into.callbacks_requested += other.callbacks_requested
    into.callbacks_completed += other.callbacks_completed
    into.callbacks_failed += other.callbacks_failed
    return into
