"""Best-effort models for files that failed validation, so the cross-checks still run.

If one agent has a typo, the admin still wants to hear that ring group ``sales`` names a queue
that does not exist, in the same run. So after reporting the validation errors, the entries that
hold them (one agent, one ring group, one flow node ...) are cut out of the data and the rest is
validated again. The cross-checks then run on that partial model; references are checked against
the names found in the raw file (:func:`raw_names`), so cutting an entry out never produces a
false "X is not defined".

Cutting an item out of a top-level list shifts the indexes after it; ``index_maps`` keeps each
remaining item's original index so issues still point at the right line.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from esl_apps.config.errors import KeyPath
from esl_apps.config.locate import data_path

__all__ = ["PruneSpec", "Pruned", "best_effort", "raw_names"]

_ROUNDS = 5


@dataclass(frozen=True)
class PruneSpec:
    """Where the entries of one file live: which parts can be cut out on their own."""

    lists: frozenset[str] = frozenset()  # top-level lists of entries (agents, dids, codes)
    mappings: frozenset[KeyPath] = frozenset()  # mappings of entries (ring_groups, voicemail.boxes)
    placeholders: dict[str, Any] = field(default_factory=dict)  # required top-level keys


@dataclass
class Pruned:
    model: Any
    index_maps: dict[str, list[int]]
    cut: set[KeyPath] = field(default_factory=set)  # in the file's own coordinates (original indexes)


def _cut_point(path: KeyPath, spec: PruneSpec) -> KeyPath:
    if not path:
        return path
    if path[0] in spec.lists and len(path) >= 2:
        return path[:2]
    for mapping in sorted(spec.mappings, key=len, reverse=True):
        if path[: len(mapping)] == mapping and len(path) > len(mapping):
            return path[: len(mapping) + 1]
    return path[:1]


def _cut(data: dict[str, Any], point: KeyPath, spec: PruneSpec, index_maps: dict[str, list[int]]) -> bool:
    """Remove ``point`` from ``data``; False when the whole document would have to go."""
    if not point:
        return False
    if len(point) == 1:
        key = point[0]
        if key in spec.placeholders:
            if data.get(key) == spec.placeholders[key]:
                return False  # the placeholder itself is rejected: give up
            data[key] = copy.deepcopy(spec.placeholders[key])
        else:
            data.pop(key, None)
        return True
    parent: Any = data
    for part in point[:-1]:
        parent = parent[part]
    last = point[-1]
    if isinstance(parent, list) and isinstance(last, int):
        name = str(point[0])
        mapping = index_maps.setdefault(name, list(range(len(parent))))
        del parent[last]
        del mapping[last]
    elif isinstance(parent, dict):
        parent.pop(last, None)
    return True


def best_effort(model: type[BaseModel], data: Any, spec: PruneSpec) -> Pruned | None:
    """Validate ``data`` after cutting out the entries that fail; None when nothing usable is left."""
    if not isinstance(data, dict):
        return None
    data = copy.deepcopy(data)
    index_maps: dict[str, list[int]] = {}
    cut: set[KeyPath] = set()
    for round_number in range(_ROUNDS):
        try:
            return Pruned(model.model_validate(data), index_maps, cut)
        except ValidationError as exc:
            points: set[KeyPath] = set()
            for error in exc.errors(include_url=False):
                path = data_path(tuple(error["loc"]), data)
                if error["type"] == "missing" and not path:
                    loc = error["loc"]
                    if len(loc) == 1 and loc[0] in spec.placeholders:
                        points.add((loc[0],))
                        continue
                    return None
                # First try removing just the bad key (its default then applies), which keeps the
                # rest of the entry checkable; a key is never a list index, so nothing shifts.
                leaf = (
                    round_number == 0
                    and error["type"] != "missing"
                    and len(path) > 1
                    and isinstance(path[-1], str)
                )
                points.add(path if leaf else _cut_point(path, spec))
            # Deepest and highest index first, so removing one point never moves another.
            for point in sorted(points, key=lambda p: (len(p), [str(x).zfill(9) for x in p]), reverse=True):
                cut.add(_original(point, index_maps))
                try:
                    if not _cut(data, point, spec, index_maps):
                        return None
                except (KeyError, IndexError, TypeError):
                    return None  # an odd shape this cutter does not know: skip the cross-checks
    return None


def _original(point: KeyPath, index_maps: dict[str, list[int]]) -> KeyPath:
    if len(point) > 1 and isinstance(point[1], int) and str(point[0]) in index_maps:
        return (point[0], index_maps[str(point[0])][point[1]], *point[2:])
    return point


def _keys(value: Any) -> set[str]:
    return {str(k) for k in value} if isinstance(value, dict) else set()


def _field(value: Any, *keys: str) -> Any:
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def raw_names(pbx_data: Any) -> dict[str, set[str]]:
    """Every name defined in the raw pbx.yaml data, valid or not (for reference checks)."""
    agents = _field(pbx_data, "agents")
    agent_ids = set()
    if isinstance(agents, list):
        agent_ids = {str(a["id"]) for a in agents if isinstance(a, dict) and a.get("id") is not None}
    return {
        "agent": agent_ids,
        "ring group": _keys(_field(pbx_data, "ring_groups")),
        "queue": _keys(_field(pbx_data, "queues")),
        "voicemail box": _keys(_field(pbx_data, "voicemail", "boxes")),
        "schedule": _keys(_field(pbx_data, "schedules")),
    }


PBX_SPEC = PruneSpec(
    lists=frozenset({"agents", "dids"}),
    mappings=frozenset({("ring_groups",), ("queues",), ("schedules",), ("voicemail", "boxes")}),
    placeholders={"domain": "invalid.invalid", "esl": {"password_env": "ESL_APPS_UNSET"}},
)
CODEBOOK_SPEC = PruneSpec(lists=frozenset({"codes"}), mappings=frozenset({("categories",)}))
FLOW_SPEC = PruneSpec(mappings=frozenset({("nodes",)}))
