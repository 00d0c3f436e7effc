"""Cross-checks inside pbx.yaml: references between agents, groups, queues, boxes, schedules, DIDs.

References are checked against :class:`~esl_apps.config.validate.Names` (every name written in the
raw files), so an entry that failed validation elsewhere is still "defined" here and produces no
second, misleading error.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from esl_apps.config.errors import KeyPath
from esl_apps.config.pbx import PbxConfig

if TYPE_CHECKING:
    from esl_apps.config.validate import Names, Reporter

__all__ = ["check_pbx", "shortest_cycle", "strongly_connected"]


def check_pbx(pbx: PbxConfig, report: Reporter, names: Names) -> None:
    _check_agents(pbx, report, names)
    _check_groups(pbx, report, names)
    _check_overflow_cycles(pbx, report)
    _check_queues(pbx, report, names)
    _check_dids(pbx, report, names)
    if pbx.callbacks is not None and pbx.callbacks.schedule is not None:
        names.check(report, ("callbacks", "schedule"), "schedule", pbx.callbacks.schedule)
    _check_numbering(pbx, report)


def _check_agents(pbx: PbxConfig, report: Reporter, names: Names) -> None:
    first: dict[str, int] = {}
    for index, agent in enumerate(pbx.agents):
        if agent.id in first:
            report(
                ("agents", index, "id"),
                f"agent id {agent.id!r} is used twice (first at agents[{first[agent.id]}])",
            )
        first.setdefault(agent.id, index)
        if not agent.endpoints:
            report(
                ("agents", index),
                f"agent {agent.id!r} has no endpoints, so no call can reach them "
                '(e.g. endpoints: ["user/1001@${domain}"])',
            )
        for g_index, group in enumerate(agent.groups):
            names.check(report, ("agents", index, "groups", g_index), "ring group", group)


def _check_groups(pbx: PbxConfig, report: Reporter, names: Names) -> None:
    for gid, group in pbx.ring_groups.items():
        base: KeyPath = ("ring_groups", gid)
        seen: set[str] = set()
        for m_index, member in enumerate(group.members):
            where = (*base, "members", m_index)
            if names.check(report, where, "agent", member.agent) and member.agent in seen:
                report(where, f"agent {member.agent!r} is listed twice in this group")
            seen.add(member.agent)
        members = pbx.members_of(gid)
        if not members:
            report(
                (*base, "members"),
                f"ring group {gid!r} has no members: list agents under members (or name the group in an "
                "agent's groups)",
            )
        elif group.strategy == "weighted_random" and all(m.weight == 0 for m in members):
            report(
                (*base, "members"),
                "every member has weight 0 (standby), so weighted_random has no weights to go by",
                "warning",
            )
        if group.queue is not None and names.check(report, (*base, "queue"), "queue", group.queue):
            queue = pbx.queues.get(group.queue)
            if queue is not None and queue.group != gid:
                report(
                    (*base, "queue"), f"queue {group.queue!r} serves ring group {queue.group!r}, not {gid!r}"
                )
        if group.voicemail is not None:
            names.check(report, (*base, "voicemail"), "voicemail box", group.voicemail)
        if group.schedule is not None:
            names.check(report, (*base, "schedule"), "schedule", group.schedule)
        for r_index, rule in enumerate(group.overflow):
            to: KeyPath = (*base, "overflow", r_index, "to")
            target = rule.to
            if target.group == gid:
                report((*to, "group"), f"ring group {gid!r} overflows to itself")
            elif target.group is not None:
                names.check(report, (*to, "group"), "ring group", target.group)
            if target.voicemail is not None:
                names.check(report, (*to, "voicemail"), "voicemail box", target.voicemail)
            if target.callback and not names.has_callbacks:
                report((*to, "callback"), "overflow to a callback needs the top-level callbacks: section")
            for w_index, when in enumerate(rule.when):
                where = (*base, "overflow", r_index, "when", w_index)
                if when in ("queue_full", "max_wait") and group.queue is None:
                    report(where, f"{when!r} can never happen: ring group {gid!r} has no queue", "warning")
                if when == "closed" and group.schedule is None:
                    report(where, f"'closed' can never happen: ring group {gid!r} has no schedule", "warning")


def _check_overflow_cycles(pbx: PbxConfig, report: Reporter) -> None:
    """Group A overflowing to B overflowing back to A would bounce a caller forever."""
    edges = {
        gid: [
            (i, r.to.group)
            for i, r in enumerate(g.overflow)
            if r.to.group in pbx.ring_groups and r.to.group != gid
        ]
        for gid, g in pbx.ring_groups.items()
    }
    graph = {gid: [target for _, target in out] for gid, out in edges.items()}
    for component in strongly_connected(graph):
        if len(component) < 2:
            continue
        start = next(gid for gid in pbx.ring_groups if gid in component)  # first in file order
        cycle = shortest_cycle(graph, component, start)
        index = next(i for i, target in edges[cycle[-2]] if target == start)
        report(
            ("ring_groups", cycle[-2], "overflow", index, "to", "group"),
            f"overflow loop: {' -> '.join(cycle)} (a caller would be passed round forever)",
        )


def strongly_connected(graph: dict[str, list[str]]) -> list[set[str]]:
    """Tarjan's strongly connected components, iterative (flows and group chains can be long)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[set[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(graph[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in graph:
                    continue
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(graph[child])))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                components.append(component)
    return components


def shortest_cycle(graph: dict[str, list[str]], members: set[str], start: str) -> list[str]:
    """``[start, ..., start]``: a shortest way round inside ``members`` (BFS), for messages."""
    parents: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in graph[node]:
                if nxt == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(parents[path[-1]])
                    return [*reversed(path), start]
                if nxt in members and nxt not in parents:
                    parents[nxt] = node
                    following.append(nxt)
        frontier = following
    return [start, start]


def _check_queues(pbx: PbxConfig, report: Reporter, names: Names) -> None:
    for qid, queue in pbx.queues.items():
        names.check(report, ("queues", qid, "group"), "ring group", queue.group)
        group = pbx.ring_groups.get(queue.group)
        for key, action in queue.leave_keys.items():
            where = ("queues", qid, "leave_keys", key)
            if action == "voicemail" and group is not None and group.voicemail is None:
                report(
                    where,
                    f"key {key} leaves to voicemail, but ring group {queue.group!r} has no voicemail box",
                )
            if action == "callback" and not names.has_callbacks:
                report(where, "a callback key needs the top-level callbacks: section")


def _check_dids(pbx: PbxConfig, report: Reporter, names: Names) -> None:
    first: dict[str, int] = {}
    for index, did in enumerate(pbx.dids):
        if did.number in first:
            report(
                ("dids", index, "number"),
                f"DID {did.number} is listed twice (first at dids[{first[did.number]}])",
            )
        first.setdefault(did.number, index)
        names.check(report, ("dids", index, "flow"), "flow", did.flow)
        if did.schedule is not None:
            names.check(report, ("dids", index, "schedule"), "schedule", did.schedule)


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
                    f"{other_code} starts with feature code {name} ({code}): a phone that dials as soon as "
                    "a code matches never reaches it",
                    "warning",
                )
