"""Configurations for the dialplan tests: the shipped example, and variations of it.

Variations are made on the example's plain data and validated by the real models, so a test
states only what it changes (``pbx["ring_groups"]["sales"]["voicemail"] = None``). ``write_conf``
writes a variation as YAML for the CLI tests, which go through ``load_config`` like an admin.
"""

from __future__ import annotations

import copy
import dataclasses
import shutil
from collections.abc import Callable
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from esl_apps import resources
from esl_apps.config import Config, load_config
from esl_apps.config.flows import Flow
from esl_apps.config.pbx import PbxConfig

__all__ = ["example", "example_data", "variant", "write_conf"]

Data = dict[str, Any]


@cache
def example() -> Config:
    return load_config(resources.example_conf_dir(), resources.example_flows_dir())


@cache
def _raw() -> tuple[Data, dict[str, Data]]:
    pbx = yaml.safe_load((resources.example_conf_dir() / "pbx.yaml").read_text(encoding="utf-8"))
    flows = {
        path.stem: yaml.safe_load(path.read_text(encoding="utf-8"))
        for path in sorted(resources.example_flows_dir().glob("*.yaml"))
    }
    return pbx, flows


def example_data() -> tuple[Data, dict[str, Data]]:
    """Deep copies of the example's pbx.yaml and flows as plain data (safe to modify)."""
    pbx, flows = _raw()
    return copy.deepcopy(pbx), copy.deepcopy(flows)


def variant(
    pbx_edit: Callable[[Data], None] | None = None,
    flows_edit: Callable[[dict[str, Data]], None] | None = None,
) -> Config:
    """The example with edits applied, validated by the models (no YAML, no cross-checks)."""
    pbx, flows = example_data()
    if pbx_edit:
        pbx_edit(pbx)
    if flows_edit:
        flows_edit(flows)
    base = example()
    return dataclasses.replace(
        base,
        pbx=PbxConfig.model_validate(pbx),
        flows=MappingProxyType({name: Flow.model_validate(data) for name, data in flows.items()}),
    )


def write_conf(
    directory: Path,
    pbx_edit: Callable[[Data], None] | None = None,
    flows_edit: Callable[[dict[str, Data]], None] | None = None,
) -> tuple[Path, Path]:
    """Write the (edited) example as conf/ and ivr_flows/ under ``directory``."""
    pbx, flows = example_data()
    if pbx_edit:
        pbx_edit(pbx)
    if flows_edit:
        flows_edit(flows)
    conf_dir, flows_dir = directory / "conf", directory / "ivr_flows"
    conf_dir.mkdir(parents=True, exist_ok=True)
    flows_dir.mkdir(parents=True, exist_ok=True)
    (conf_dir / "pbx.yaml").write_text(
        yaml.safe_dump(pbx, sort_keys=False, allow_unicode=True), encoding="utf-8"
    )
    shutil.copy(resources.example_conf_dir() / "dispositions.yaml", conf_dir / "dispositions.yaml")
    for name, data in flows.items():
        (flows_dir / f"{name}.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return conf_dir, flows_dir
