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
from esl_apps.config.errors import ConfigError, ConfigIssue
from esl_apps.config.locate import issues_from_validation
from esl_apps.config.pbx import PbxConfig
from esl_apps.config.yamlmarks import Marks, parse_yaml, read_text

__all__ = ["Config", "SourceFile", "load_config"]

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
    flows: Mapping[str, Any]  # flow name -> esl_apps.config.flows.Flow
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


def _validate(model: type[BaseModel], source: SourceFile, issues: list[ConfigIssue]) -> Any:
    data = source.data
    if data is None:
        issues.append(ConfigIssue(source.name, 1, 1, "(root)", "file is empty; expected a mapping of keys"))
        return None
    if not isinstance(data, dict):
        issues.append(ConfigIssue(source.name, 1, 1, "(root)", "expected a mapping of keys at the top level"))
        return None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        issues.extend(issues_from_validation(exc, source.name, data, source.marks, model))
        return None


def _flow_model() -> type[BaseModel] | None:
    try:
        from esl_apps.config.flows import Flow
    except ImportError:  # the flow models are written by the engine; until then flows load unchecked
        return None
    return Flow


def _load_flows(flows_dir: Path, issues: list[ConfigIssue], sources: dict[str, SourceFile]) -> dict[str, Any]:
    flows: dict[str, Any] = {}
    origin: dict[str, str] = {}
    if not flows_dir.is_dir():
        issues.append(ConfigIssue(str(flows_dir), 1, 1, "(root)", "flows directory not found"))
        return flows
    model = _flow_model()
    paths = sorted([*flows_dir.glob("*.yaml"), *flows_dir.glob("*.yml")])
    for path in paths:
        source = _read(path, issues)
        if source is None:
            continue
        sources[source.name] = source
        flow = _validate(model, source, issues) if model is not None else source.data
        if flow is None:
            continue
        name = getattr(flow, "name", None) or getattr(flow, "flow", None) or path.stem
        if not isinstance(name, str):
            name = path.stem
        if name in flows:
            line, column = source.marks.get(("flow",), source.marks.get(("name",), (1, 1)))
            issues.append(
                ConfigIssue(
                    source.name, line, column, "flow", f"flow {name!r} is also defined in {origin[name]}"
                )
            )
            continue
        flows[name] = flow
        origin[name] = source.name
    return flows


def load_config(conf_dir: Path | None = None, flows_dir: Path | None = None) -> Config:
    """Load and check the whole configuration; raises :class:`ConfigError` listing all errors."""
    conf_dir = Path(conf_dir) if conf_dir is not None else resources.example_conf_dir()
    flows_dir = Path(flows_dir) if flows_dir is not None else resources.example_flows_dir()
    issues: list[ConfigIssue] = []
    sources: dict[str, SourceFile] = {}

    pbx_source = _read(conf_dir / PBX_FILE, issues)
    pbx = _validate(PbxConfig, pbx_source, issues) if pbx_source else None
    disp_source = _read(conf_dir / DISPOSITIONS_FILE, issues)
    codebook = _validate(Codebook, disp_source, issues) if disp_source else None
    for source in (pbx_source, disp_source):
        if source is not None:
            sources[source.name] = source
    flows = _load_flows(flows_dir, issues, sources)

    from esl_apps.config.validate import cross_check

    issues.extend(cross_check(pbx, codebook, flows, sources, pbx_source, disp_source))
    issues = sorted(set(issues), key=lambda i: (i.file, i.line, i.column, i.key_path, i.message))
    if any(issue.severity == "error" for issue in issues) or pbx is None or codebook is None:
        raise ConfigError(issues)
    return Config(
        pbx=pbx,
        dispositions=codebook,
        flows=MappingProxyType(flows),
        files=tuple(sources),
        warnings=tuple(issues),
        sources=MappingProxyType(sources),
    )
