"""Load conf/ and ivr_flows/ into one validated :class:`Config`, or report every problem.

Each file goes through the same three stages (read + YAML with marks, pydantic model, then the
cross-checks that need several files). A file that fails an early stage is left out of the later
ones, but the other files still go through, so one run lists every mistake that can be found.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pydantic import BaseModel, ValidationError

from esl_apps import resources
from esl_apps.config.dispositions import Codebook
from esl_apps.config.errors import ConfigError, ConfigIssue, KeyPath
from esl_apps.config.flows import Flow
from esl_apps.config.locate import describe, issues_from_validation
from esl_apps.config.pbx import PbxConfig
from esl_apps.config.prune import CODEBOOK_SPEC, FLOW_SPEC, PBX_SPEC, PruneSpec, best_effort
from esl_apps.config.validate import cross_check
from esl_apps.config.yamlmarks import Marks, gc_paused, parse_yaml, read_text

__all__ = ["Checked", "Config", "SourceFile", "load_config"]

PBX_FILE = "pbx.yaml"
DISPOSITIONS_FILE = "dispositions.yaml"


@dataclass(frozen=True, slots=True)
class SourceFile:
    """One loaded YAML file: what it is called in messages, its data and its marks."""

    name: str
    data: Any
    marks: Marks


@dataclass(frozen=True)
class Config:
    pbx: PbxConfig
    dispositions: Codebook
    flows: Mapping[str, Flow]
    files: tuple[str, ...]
    warnings: tuple[ConfigIssue, ...] = ()
    sources: Mapping[str, SourceFile] = field(default_factory=dict, repr=False, compare=False)


def _read(path: Path, issues: list[ConfigIssue]) -> SourceFile | None:
    name = str(path)
    text, read_issues = read_text(path, name)
    issues.extend(read_issues)
    if text is None:
        return None
    data, marks, parse_issues = parse_yaml(text, name)
    issues.extend(parse_issues)
    if parse_issues and data is None:
        return None
    return SourceFile(name, data, marks)


@dataclass
class Checked:
    """One file after validation: the model when valid, else a best-effort partial model."""

    source: SourceFile
    model: Any = None
    valid: bool = False
    index_maps: dict[str, list[int]] = field(default_factory=dict)
    cut: set[KeyPath] = field(default_factory=set)


def _validate(
    model: type[BaseModel], source: SourceFile, spec: PruneSpec, issues: list[ConfigIssue]
) -> Checked:
    data = source.data
    checked = Checked(source)
    if data is None:
        issues.append(ConfigIssue(source.name, 1, 1, "(root)", "file is empty; expected a mapping of keys"))
        return checked
    if not isinstance(data, dict):
        what = describe(data)
        issues.append(
            ConfigIssue(
                source.name, 1, 1, "(root)", f"expected a mapping of keys at the top level, got {what}"
            )
        )
        return checked
    try:
        checked.model = model.model_validate(data)
        checked.valid = True
    except ValidationError as exc:
        issues.extend(issues_from_validation(exc, source.name, data, source.marks, model))
        partial = best_effort(model, data, spec)
        if partial is not None:
            checked.model, checked.index_maps, checked.cut = partial.model, partial.index_maps, partial.cut
    return checked


def _flow_name(data: Any, path: Path) -> str:
    name = data.get("flow") if isinstance(data, dict) else None
    return name if isinstance(name, str) and name else path.stem


def _load_flows(flows_dir: Path, issues: list[ConfigIssue]) -> dict[str, Checked]:
    """Flow name -> checked file. A name defined twice is an error at the second file."""
    flows: dict[str, Checked] = {}
    if not flows_dir.is_dir():
        issues.append(ConfigIssue(str(flows_dir), 1, 1, "(root)", "flows directory not found"))
        return flows
    for path in sorted([*flows_dir.glob("*.yaml"), *flows_dir.glob("*.yml")]):
        source = _read(path, issues)
        if source is None:
            # Unreadable or not YAML (already reported): still a flow by its file name, so a DID
            # naming it does not get a second, misleading "flow is not defined".
            source = SourceFile(str(path), None, {(): (1, 1)})
            checked = Checked(source)
        else:
            checked = _validate(Flow, source, FLOW_SPEC, issues)
        name = _flow_name(source.data, path)
        if name in flows:
            line, column = source.marks.get(("flow",), (1, 1))
            other = flows[name].source.name
            issues.append(
                ConfigIssue(source.name, line, column, "flow", f"flow {name!r} is also defined in {other}")
            )
            continue
        if name != path.stem:
            line, column = source.marks.get(("flow",), (1, 1))
            issues.append(
                ConfigIssue(
                    source.name,
                    line,
                    column,
                    "flow",
                    f"flow {name!r} is in a file named {path.name}; "
                    f"name the file {name}.yaml so admins find it",
                    "warning",
                )
            )
        flows[name] = checked
    return flows


def load_config(conf_dir: Path | None = None, flows_dir: Path | None = None) -> Config:
    """Load and check the whole configuration; raises :class:`ConfigError` listing all errors."""
    with gc_paused():  # ~10^6 new objects and no garbage: the collector would only cost time
        return _load_config(conf_dir, flows_dir)


def _load_config(conf_dir: Path | None, flows_dir: Path | None) -> Config:
    conf_dir = Path(conf_dir) if conf_dir is not None else resources.example_conf_dir()
    flows_dir = Path(flows_dir) if flows_dir is not None else resources.example_flows_dir()
    issues: list[ConfigIssue] = []

    pbx_source = _read(conf_dir / PBX_FILE, issues)
    pbx = _validate(PbxConfig, pbx_source, PBX_SPEC, issues) if pbx_source else None
    disp_source = _read(conf_dir / DISPOSITIONS_FILE, issues)
    codebook = _validate(Codebook, disp_source, CODEBOOK_SPEC, issues) if disp_source else None
    flows = _load_flows(flows_dir, issues)

    issues.extend(cross_check(pbx, codebook, flows))
    issues = sorted(set(issues), key=lambda i: (i.file, i.line, i.column, i.key_path, i.message))
    valid = pbx is not None and pbx.valid and codebook is not None and codebook.valid
    if not valid or any(issue.severity == "error" for issue in issues):
        raise ConfigError(issues)
    assert pbx is not None and codebook is not None
    sources = [pbx.source, codebook.source, *(checked.source for checked in flows.values())]
    return Config(
        pbx=pbx.model,
        dispositions=codebook.model,
        flows=MappingProxyType({name: checked.model for name, checked in flows.items()}),
        files=tuple(source.name for source in sources),
        warnings=tuple(issues),
        sources=MappingProxyType({source.name: source for source in sources}),
    )
