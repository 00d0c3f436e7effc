"""Checks that need more than one key at once: references between entries and between files.

Each check reports at the key that holds the bad reference (``ring_groups.sales.members[2].agent``
names ``carol``, who does not exist), so the admin is sent to the line to change.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from esl_apps.config.dispositions import Codebook
from esl_apps.config.errors import ConfigIssue, KeyPath, Severity, format_key_path
from esl_apps.config.locate import mark_for
from esl_apps.config.pbx import PbxConfig

__all__ = ["Reporter", "cross_check"]


class Reporter:
    """Collects issues for one file, placing each at the mark of its key path."""

    def __init__(self, source: Any) -> None:
        self.name: str = source.name
        self.marks = source.marks
        self.issues: list[ConfigIssue] = []

    def __call__(self, path: KeyPath, message: str, severity: Severity = "error") -> None:
        line, column = mark_for(self.marks, path)
        self.issues.append(ConfigIssue(self.name, line, column, format_key_path(path), message, severity))


def _known(kind: str, name: str, known: Mapping[str, Any] | set[str]) -> str:
    if not known:
        return f"{kind} {name!r} is not defined (none are defined)"
    close = difflib.get_close_matches(name, list(known), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    available = f": {', '.join(sorted(known))}" if len(known) <= 12 else f" ({len(known)} defined)"
    return f"{kind} {name!r} is not defined{hint} (known{available})"


def check_pbx(pbx: PbxConfig, report: Reporter, flow_names: set[str] | None) -> None:
    agents = {}
    for index, agent in enumerate(pbx.agents):
        if agent.id in agents:
            report(
                ("agents", index, "id"),
                f"agent id {agent.id!r} is used twice (first at agents[{agents[agent.id]}])",
            )
        else:
            agents[agent.id] = index
        if not agent.endpoints:
            report(("agents", index), f"agent {agent.id!r} has no endpoints, so no call can ever reach them")
        for g_index, group in enumerate(agent.groups):
            if group not in pbx.ring_groups:
                report(("agents", index, "groups", g_index), _known("ring group", group, pbx.ring_groups))

    for gid, group in pbx.ring_groups.items():
        base = ("ring_groups", gid)
        seen: set[str] = set()
        for m_index, member in enumerate(group.members):
            where = (*base, "members", m_index)
            if member.agent not in agents:
                report(where, _known("agent", member.agent, agents))
            elif member.agent in seen:
                report(where, f"agent {member.agent!r} is listed twice in this group")
            seen.add(member.agent)
        if member_count(pbx, gid) == 0:
            report((*base, "members"), f"ring group {gid!r} has no members (list agents under members)")
        if group.strategy == "weighted_random" and all(m.weight == 0 for m in pbx.members_of(gid)):
            report((*base, "members"), "weighted_random needs at least one member with weight > 0")
        if group.queue is not None:
            if group.queue not in pbx.queues:
                report((*base, "queue"), _known("queue", group.queue, pbx.queues))
            elif pbx.queues[group.queue].group != gid:
                report(
                    (*base, "queue"),
                    f"queue {group.queue!r} serves ring group {pbx.queues[group.queue].group!r}, not {gid!r}",
                )
        if group.voicemail is not None and group.voicemail not in pbx.voicemail.boxes:
            report((*base, "voicemail"), _known("voicemail box", group.voicemail, pbx.voicemail.boxes))
        if group.schedule is not None and group.schedule not in pbx.schedules:
            report((*base, "schedule"), _known("schedule", group.schedule, pbx.schedules))
        for r_index, rule in enumerate(group.overflow):
            to = (*base, "overflow", r_index, "to")
            target = rule.to
            if target.group is not None:
                if target.group not in pbx.ring_groups:
                    report((*to, "group"), _known("ring group", target.group, pbx.ring_groups))
                elif target.group == gid:
                    report((*to, "group"), f"ring group {gid!r} overflows to itself")
            if target.voicemail is not None and target.voicemail not in pbx.voicemail.boxes:
                report((*to, "voicemail"), _known("voicemail box", target.voicemail, pbx.voicemail.boxes))
            if target.callback and pbx.callbacks is None:
                report((*to, "callback"), "overflow to a callback needs the top-level callbacks: section")
            for w_index, when in enumerate(rule.when):
                if when in ("queue_full", "max_wait") and group.queue is None:
                    report(
                        (*base, "overflow", r_index, "when", w_index),
                        f"{when!r} can never happen: ring group {gid!r} has no queue",
                        "warning",
                    )
                if when == "closed" and group.schedule is None:
                    report(
                        (*base, "overflow", r_index, "when", w_index),
                        f"'closed' can never happen: ring group {gid!r} has no schedule",
                        "warning",
                    )
    _check_overflow_cycles(pbx, report)

    for qid, queue in pbx.queues.items():
        if queue.group not in pbx.ring_groups:
            report(("queues", qid, "group"), _known("ring group", queue.group, pbx.ring_groups))
        for key, action in queue.leave_keys.items():
            group = pbx.ring_groups.get(queue.group)
            if action == "voicemail" and group is not None and group.voicemail is None:
                report(("queues", qid, "leave_keys", key), f"ring group {queue.group!r} has no voicemail box")
            if action == "callback" and pbx.callbacks is None:
                report(
                    ("queues", qid, "leave_keys", key),
                    "a callback key needs the top-level callbacks: section",
                )

    numbers: dict[str, int] = {}
    for index, did in enumerate(pbx.dids):
        if did.number in numbers:
            report(
                ("dids", index, "number"),
                f"DID {did.number} is listed twice (first at dids[{numbers[did.number]}])",
            )
        numbers.setdefault(did.number, index)
        if flow_names is not None and did.flow not in flow_names:
            report(("dids", index, "flow"), _known("flow", did.flow, flow_names))
        if did.schedule is not None and did.schedule not in pbx.schedules:
            report(("dids", index, "schedule"), _known("schedule", did.schedule, pbx.schedules))
    if (
        pbx.callbacks is not None
        and pbx.callbacks.schedule is not None
        and pbx.callbacks.schedule not in pbx.schedules
    ):
        report(("callbacks", "schedule"), _known("schedule", pbx.callbacks.schedule, pbx.schedules))
    _check_numbering(pbx, report)


def member_count(pbx: PbxConfig, group_id: str) -> int:
    return len(pbx.members_of(group_id))


def _check_overflow_cycles(pbx: PbxConfig, report: Reporter) -> None:
    """Group A overflowing to B overflowing to A would bounce a caller forever."""
    edges = {
        gid: [(i, r.to.group) for i, r in enumerate(g.overflow) if r.to.group in pbx.ring_groups]
        for gid, g in pbx.ring_groups.items()
    }
    reported: set[frozenset[str]] = set()
    for start in edges:
        stack: list[tuple[str, list[str]]] = [(start, [start])]
        while stack:
            node, trail = stack.pop()
            for index, nxt in edges[node]:
                if nxt == start and len(trail) > 1 and frozenset(trail) not in reported:
                    reported.add(frozenset(trail))
                    cycle = " -> ".join([*trail, start])
                    report(("ring_groups", node, "overflow", index, "to", "group"), f"overflow loop: {cycle}")
                elif nxt not in trail and nxt != start:
                    stack.append((nxt, [*trail, nxt]))


def _numbering(pbx: PbxConfig) -> Iterator[tuple[str, KeyPath, str]]:
    for index, agent in enumerate(pbx.agents):
        if agent.extension:
            yield agent.extension, ("agents", index, "extension"), f"agent {agent.id!r}"
    for gid, group in pbx.ring_groups.items():
        if group.extension:
            yield group.extension, ("ring_groups", gid, "extension"), f"ring group {gid!r}"
    for bid, box in pbx.voicemail.boxes.items():
        yield box.number, ("voicemail", "boxes", bid, "number"), f"voicemail box {bid!r}"
    yield pbx.dialplan.wrapup_extension, ("dialplan", "wrapup_extension"), "the wrap-up extension"
    for name, code in pbx.dialplan.feature_codes.model_dump().items():
        yield code, ("dialplan", "feature_codes", name), f"feature code {name}"


def _check_numbering(pbx: PbxConfig, report: Reporter) -> None:
    """Every internal number dials exactly one thing; a clash silently routes to the wrong one."""
    owners: dict[str, str] = {}
    for number, path, owner in _numbering(pbx):
        if number in owners:
            report(path, f"{number} is already used by {owners[number]}")
        else:
            owners[number] = owner
    codes = pbx.dialplan.feature_codes.model_dump()
    for name, code in codes.items():
        for other, other_code in codes.items():
            if other != name and other_code != code and other_code.startswith(code):
                report(
                    ("dialplan", "feature_codes", other),
                    f"{other_code} starts with feature code {name} ({code}): phones that dial as soon as "
                    "a code matches will never reach it",
                    "warning",
                )


def check_codebook(book: Codebook, report: Reporter) -> None:
    first: dict[str, int] = {}
    for index, code in enumerate(book.codes):
        if code.code in first:
            report(
                ("codes", index, "code"),
                f"code {code.code} is defined twice (first at codes[{first[code.code]}])",
            )
        else:
            first[code.code] = index
        if code.category not in book.categories:
            report(("codes", index, "category"), _known("category", code.category, book.categories))
        if code.callback_time_required and code.action not in ("callback", "none"):
            report(
                ("codes", index, "callback_time_required"),
                f"action {code.action!r} does not schedule a callback",
            )
    for name, category in book.categories.items():
        if category.required and not book.codes_in(name):
            report(("categories", name), f"category {name!r} is required but has no codes")
    if book.default_code is not None and book.default_code not in first:
        report(("default_code",), _known("code", book.default_code, set(first)))
    for name, value in book.system_codes.model_dump().items():
        if value is not None and value not in first:
            report(("system_codes", name), _known("code", value, set(first)))


def missing_prompt(sounds_dir: str | None, prompt: str) -> bool:
    """True for a plain prompt file that exists neither under sounds_dir nor as an absolute path.

    Streams (``tone_stream://``), variables and relative paths with no sounds_dir to look in
    cannot be checked here, so they are never reported.
    """
    if not sounds_dir or not prompt or "://" in prompt or "$" in prompt or not Path(sounds_dir).is_dir():
        return False
    path = Path(prompt)
    return not (path.exists() if path.is_absolute() else (Path(sounds_dir) / path).exists())


def check_prompts(pbx: PbxConfig, report: Reporter) -> None:
    """A prompt missing under sounds_dir plays silence: worth a warning, not a refusal."""
    sounds = pbx.dialplan.sounds_dir
    for name, prompt in pbx.recording.prompts.model_dump().items():
        if prompt and missing_prompt(sounds, prompt):
            report(
                ("recording", "prompts", name), f"prompt file {prompt} not found under {sounds}", "warning"
            )


def cross_check(
    pbx: PbxConfig | None,
    codebook: Codebook | None,
    flows: Mapping[str, Any],
    sources: Mapping[str, Any],
    pbx_source: Any,
    disp_source: Any,
) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = []
    if pbx is not None:
        report = Reporter(pbx_source)
        check_pbx(pbx, report, set(flows))
        check_prompts(pbx, report)
        issues.extend(report.issues)
    if codebook is not None:
        report = Reporter(disp_source)
        check_codebook(codebook, report)
        issues.extend(report.issues)
    try:
        from esl_apps.config.validate_flows import check_flows
    except ImportError:
        return issues
    issues.extend(check_flows(pbx, flows, sources))
    return issues
