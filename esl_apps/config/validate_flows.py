"""Cross-checks for one IVR flow: its edges, what its nodes name in pbx.yaml, and its shape.

Shape checks catch flows that validate node by node but cannot work as a whole: a node nothing
leads to (usually a forgotten wire), and a loop that no caller input can ever leave (a menu whose
every option and max_tries lead back to itself plays forever).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from esl_apps.config.errors import KeyPath
from esl_apps.config.flows import Flow, FlowNode
from esl_apps.config.pbx import PbxConfig
from esl_apps.config.validate_pbx import shortest_cycle, strongly_connected

if TYPE_CHECKING:
    from esl_apps.config.validate import Names, Reporter

__all__ = ["can_end_here", "check_flows", "edge_path"]

# Node types after which this flow is over for the caller: hung up, handed to someone, or another flow.
_LEAVING_TYPES = frozenset({"hangup", "transfer", "voicemail", "goto", "ring_group", "queue"})
# Outcomes that fall back to another outcome when they have no child of their own.
_FALLBACKS = {"holiday": "closed"}


def edge_path(node_id: str, label: str) -> KeyPath:
    """``("nodes", id, ...)`` for an edge label from ``FlowNode.targets()`` (``rules.0`` -> rules[0].to)."""
    head, _, tail = label.partition(".")
    if not tail:
        return ("nodes", node_id, head)
    if tail.isdigit() and head == "rules":
        return ("nodes", node_id, head, int(tail), "to")
    return ("nodes", node_id, head, tail)


def can_end_here(node: FlowNode) -> bool:
    """Whether running this node can end the flow: it leaves it, or an outcome has no child."""
    kind = getattr(node, "type", "")
    if kind in _LEAVING_TYPES:
        return True
    if "default" in type(node).model_fields:  # branch_caller / branch_var: no match and no default
        return getattr(node, "default", None) is None
    outcomes = set(node.OUTCOMES) - {"next"} - set(_FALLBACKS)
    if not outcomes:
        return not node.targets()
    return any(node.child(outcome) is None for outcome in outcomes)


def _reachable(graph: dict[str, list[str]], roots: Iterable[str]) -> set[str]:
    seen: set[str] = set()
    stack = [root for root in roots if root in graph]
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(t for t in graph[node] if t in graph and t not in seen)
    return seen


def _check_shape(flow: Flow, report: Reporter, extra_roots: set[str]) -> None:
    graph = {node_id: [t for _, t in sorted(node.targets().items())] for node_id, node in flow.nodes.items()}
    roots = [flow.start, *([flow.error_exit] if flow.error_exit else []), *sorted(extra_roots)]
    reachable = _reachable(graph, roots)
    for node_id in flow.nodes:
        if node_id not in reachable:
            report(
                ("nodes", node_id),
                f"node {node_id!r} is unreachable: no start, error_exit, child, option or goto leads to it",
            )
    # Nodes from which the flow can end; an edge to a missing node counts (reported separately).
    reverse: dict[str, list[str]] = {node_id: [] for node_id in graph}
    ending: list[str] = []
    for node_id, node in flow.nodes.items():
        if can_end_here(node) or any(t not in graph for t in graph[node_id]):
            ending.append(node_id)
        for target in graph[node_id]:
            if target in reverse:
                reverse[target].append(node_id)
    can_end = _reachable(reverse, ending)
    stuck = {n for n in reachable if n not in can_end}
    stuck_graph = {n: [t for t in graph[n] if t in stuck] for n in stuck}
    for component in strongly_connected(stuck_graph):
        node_id = next(n for n in flow.nodes if n in component)  # the loop's first node in the file
        if len(component) == 1 and node_id not in stuck_graph[node_id]:
            continue  # leads into a loop without being part of one; the loop itself is reported
        cycle = shortest_cycle(stuck_graph, component, node_id)
        report(
            ("nodes", node_id),
            f"loop with no exit: {' -> '.join(cycle)}; no outcome of these nodes ever leaves the loop "
            "(give a menu a max_tries child, or route an outcome to hangup, voicemail, a ring group ...)",
        )


def _check_references(flow: Flow, report: Reporter, names: Names, pbx: PbxConfig | None) -> None:
    for key in ("start", "error_exit"):
        target = getattr(flow, key)
        if target is not None and target not in flow.nodes:
            report((key,), f"{key} names node {target!r}, which is not a node of this flow")
    for node_id, node in flow.nodes.items():
        for label, target in node.targets().items():
            if target not in flow.nodes:
                report(edge_path(node_id, label), f"node {target!r} is not defined in flow {flow.flow!r}")
        _check_node_names(node_id, node, report, names)
        sounds = pbx.dialplan.sounds_dir if pbx is not None else None
        if sounds:
            from esl_apps.config.validate import missing_prompt

            for key, item in node.prompt_items():
                if isinstance(item, str) and missing_prompt(sounds, item):
                    report(("nodes", node_id, key), f"prompt file {item} not found under {sounds}", "warning")


def _check_node_names(node_id: str, node: Any, report: Reporter, names: Names) -> None:
    base: KeyPath = ("nodes", node_id)
    kind = getattr(node, "type", "")
    if kind == "ring_group" or (kind == "callback" and node.group is not None):
        names.check(report, (*base, "group"), "ring group", node.group)
    if kind == "callback" and names.pbx_loaded and not names.has_callbacks:
        report(base, "a callback node needs the callbacks: section in pbx.yaml")
    if kind == "queue":
        names.check(report, (*base, "queue"), "queue", node.queue)
    if kind == "voicemail":
        names.check(report, (*base, "box"), "voicemail box", node.box)
    if kind == "branch_time":
        names.check(report, (*base, "schedule"), "schedule", node.schedule)
    if kind == "goto" and names.check(report, (*base, "flow"), "flow", node.flow):
        target_nodes = names.flow_nodes.get(node.flow)
        if node.node is not None and target_nodes is not None and node.node not in target_nodes:
            report((*base, "node"), f"node {node.node!r} is not defined in flow {node.flow!r}")


def goto_entries(flows: Iterable[Flow]) -> dict[str, set[str]]:
    """Flow name -> nodes that a goto in some flow enters directly (they count as reachable)."""
    entries: dict[str, set[str]] = {}
    for flow in flows:
        for node in flow.nodes.values():
            if getattr(node, "type", "") == "goto" and getattr(node, "node", None):
                entries.setdefault(node.flow, set()).add(node.node)
    return entries


def check_flows(
    flow: Flow, report: Reporter, names: Names, pbx: PbxConfig | None, entries: set[str] | None = None
) -> None:
    _check_references(flow, report, names, pbx)
    _check_shape(flow, report, entries or set())
