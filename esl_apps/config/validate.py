"""Checks that need more than one key at once: references between entries and between files.

Each check reports at the key that holds the bad reference (``ring_groups.sales.members[2].agent``
names ``carol``, who does not exist), so the admin is sent to the line to change. The checks for
pbx.yaml live in ``validate_pbx``, those for ivr_flows/ in ``validate_flows``.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from esl_apps.config.dispositions import Codebook
from esl_apps.config.errors import ConfigIssue, KeyPath, Severity, format_key_path
from esl_apps.config.locate import mark_for
from esl_apps.config.prune import raw_names

if TYPE_CHECKING:
    from esl_apps.config.loader import Checked

__all__ = ["Names", "Reporter", "check_codebook", "cross_check", "missing_prompt"]


class Reporter:
    """Collects issues for one file, placing each at the mark of its key path."""

    def __init__(self, checked: Checked) -> None:
        self.name = checked.source.name
        self.marks = checked.source.marks
        self.index_maps = checked.index_maps
        self.cut = checked.cut
        self.issues: list[ConfigIssue] = []

    def __call__(self, path: KeyPath, message: str, severity: Severity = "error") -> None:
        # A partial model (entries with errors cut out) counts list items without the cut ones.
        if len(path) > 1 and isinstance(path[1], int) and str(path[0]) in self.index_maps:
            path = (path[0], self.index_maps[str(path[0])][path[1]], *path[2:])
        if any(path[: len(cut)] == cut for cut in self.cut):
            return  # about a key whose own error is already reported; its default says nothing
        line, column = mark_for(self.marks, path)
        self.issues.append(ConfigIssue(self.name, line, column, format_key_path(path), message, severity))


@dataclass
class Names:
    """Every name defined anywhere in the raw files, valid or not, by kind."""

    kinds: dict[str, set[str]] = field(default_factory=dict)
    flow_nodes: dict[str, set[str] | None] = field(default_factory=dict)  # None: the flow is unreadable
    has_callbacks: bool = False
    pbx_loaded: bool = False  # False: pbx.yaml unreadable, so references into it are not checked

    def check(self, report: Reporter, path: KeyPath, kind: str, name: str) -> bool:
        """Report ``name`` if no ``kind`` of that name exists; True when it does (or cannot tell)."""
        if kind != "flow" and not self.pbx_loaded:
            return True
        known = set(self.flow_nodes) if kind == "flow" else self.kinds.get(kind, set())
        if name in known:
            return True
        report(path, unknown_name(kind, name, known))
        return False


def unknown_name(kind: str, name: str, known: set[str]) -> str:
    if not known:
        return f"{kind} {name!r} is not defined (no {kind}s are defined)"
    close = difflib.get_close_matches(name, sorted(known), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    listing = f": {', '.join(sorted(known))}" if len(known) <= 12 else f": {len(known)} defined"
    return f"{kind} {name!r} is not defined{hint} (known{listing})"


def check_codebook(book: Codebook, report: Reporter, raw: Any) -> None:
    categories = set(raw.get("categories", {})) if isinstance(raw.get("categories"), dict) else set()
    first: dict[str, int] = {}
    for index, code in enumerate(book.codes):
        if code.code in first:
            report(
                ("codes", index, "code"),
                f"code {code.code} is defined twice (first at codes[{first[code.code]}])",
            )
        first.setdefault(code.code, index)
        if code.category not in categories:
            report(("codes", index, "category"), unknown_name("category", code.category, categories))
        if code.callback_time_required and code.action not in ("callback", "none"):
            report(
                ("codes", index, "callback_time_required"),
                f"action {code.action!r} never schedules a callback",
            )
    raw_codes = {str(c.get("code")) for c in raw.get("codes", []) if isinstance(c, dict)}
    if isinstance(raw.get("codes"), list):
        for name, category in book.categories.items():
            if category.required and not book.codes_in(name):
                report(("categories", name), f"category {name!r} is required but has no codes")
    if book.default_code is not None and book.default_code not in raw_codes:
        report(("default_code",), unknown_name("code", book.default_code, raw_codes))
    for name, value in book.system_codes.model_dump().items():
        if value is not None and value not in raw_codes:
            report(("system_codes", name), unknown_name("code", value, raw_codes))
    for key, value in book.capture.hotkeys.items():
        if value not in raw_codes:
            report(("capture", "hotkeys", key), unknown_name("code", value, raw_codes))


SOUND_RATES = (8000, 16000, 32000, 48000)
"""mod_sndfile opens ``dir/<rate>/name`` before ``dir/name`` (the stock sound packages' layout:
``ivr/8000/ivr-welcome.wav`` is played as ``ivr/ivr-welcome.wav``)."""


def missing_prompt(sounds_dir: str | None, prompt: str) -> bool:
    """True for a plain prompt file FreeSWITCH would not find: neither under sounds_dir (directly
    or in a sample-rate folder beside the name) nor as an absolute path.

    Streams (``tone_stream://``), variables, and any relative path when there is no sounds_dir
    on this machine to look in cannot be checked here, so they are never reported.
    """
    if not sounds_dir or not prompt or "://" in prompt or "$" in prompt or not Path(sounds_dir).is_dir():
        return False
    path = Path(prompt) if Path(prompt).is_absolute() else Path(sounds_dir) / prompt
    candidates = [path, *(path.parent / str(rate) / path.name for rate in SOUND_RATES)]
    return not any(candidate.is_file() for candidate in candidates)


def _names(pbx: Checked | None, flows: Mapping[str, Checked]) -> Names:
    names = Names()
    if pbx is not None and isinstance(pbx.source.data, dict):
        names.kinds = raw_names(pbx.source.data)
        names.has_callbacks = pbx.source.data.get("callbacks") is not None
        names.pbx_loaded = True
    for flow_name, checked in flows.items():
        nodes = checked.source.data.get("nodes") if isinstance(checked.source.data, dict) else None
        names.flow_nodes[flow_name] = {str(k) for k in nodes} if isinstance(nodes, dict) else None
    return names


def cross_check(
    pbx: Checked | None, codebook: Checked | None, flows: Mapping[str, Checked]
) -> list[ConfigIssue]:
    from esl_apps.config.validate_flows import check_flows, goto_entries
    from esl_apps.config.validate_pbx import check_pbx

    issues: list[ConfigIssue] = []
    names = _names(pbx, flows)
    if pbx is not None and pbx.model is not None:
        report = Reporter(pbx)
        check_pbx(pbx.model, report, names)
        sounds = pbx.model.dialplan.sounds_dir
        for key, prompt in pbx.model.recording.prompts.model_dump().items():
            if prompt and missing_prompt(sounds, prompt):
                report(
                    ("recording", "prompts", key), f"prompt file {prompt} not found under {sounds}", "warning"
                )
        for group_id, group in pbx.model.ring_groups.items():
            if group.answer_confirm and missing_prompt(sounds, group.confirm_prompt):
                report(("ring_groups", group_id, "confirm_prompt"),
                       f"prompt file {group.confirm_prompt} not found under {sounds} (agents could not "
                       "confirm: FreeSWITCH drops a leg whose confirm prompt fails)", "warning")
        issues.extend(report.issues)
    if codebook is not None and codebook.model is not None:
        report = Reporter(codebook)
        check_codebook(codebook.model, report, codebook.source.data)
        issues.extend(report.issues)
    pbx_model = pbx.model if pbx is not None else None
    entries = goto_entries(checked.model for checked in flows.values() if checked.model is not None)
    for name, checked in flows.items():
        if checked.model is not None:
            report = Reporter(checked)
            check_flows(checked.model, report, names, pbx_model, entries.get(name))
            issues.extend(report.issues)
    return issues
