"""Build a FlowEngine over the example configuration for engine, consent and PCI tests.

Recording paths and the audit file are moved under the test's tmp_path (the example points at
/var/lib/esl-apps), and extra flows can be added inline as dicts, validated by the real models.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from esl_apps import resources
from esl_apps.commands._simulation import generated_dialplan
from esl_apps.config import Config
from esl_apps.config.dispositions import Codebook
from esl_apps.config.flows import Flow
from esl_apps.config.pbx import PbxConfig
from esl_apps.engine import CallTrace, FlowEngine
from esl_apps.sim import AgentBehaviour, Emulator
from esl_apps.store.records import MemoryRecordLog
from tests.support.scripted_call import FakeClock, ScriptedCall

__all__ = ["BYE", "Harness", "emulated_pbx", "example_config", "flow", "harness", "make_config", "records_of"]


@cache
def example_config() -> Config:
    """The shipped example, validated by the models directly (not through ``load_config``), so the
    engine's tests exercise the engine and do not depend on the loader's line-mark machinery."""
    conf, flows_dir = resources.example_conf_dir(), resources.example_flows_dir()
    pbx = PbxConfig.model_validate(yaml.safe_load((conf / "pbx.yaml").read_text()))
    codebook = Codebook.model_validate(yaml.safe_load((conf / "dispositions.yaml").read_text()))
    flows = {}
    for path in sorted(flows_dir.glob("*.yaml")):
        model = Flow.model_validate(yaml.safe_load(path.read_text()))
        flows[model.flow] = model
    return Config(pbx=pbx, dispositions=codebook, flows=MappingProxyType(flows), files=())


def make_config(
    tmp_path: Path,
    *,
    flows: Mapping[str, Mapping[str, Any]] | None = None,
    recording: Mapping[str, Any] | None = None,
    pbx: Mapping[str, Any] | None = None,
) -> Config:
    base = example_config()
    rec = type(base.pbx.recording).model_validate(
        {
            **base.pbx.recording.model_dump(),
            "directory": str(tmp_path / "recordings"),
            "audit_file": str(tmp_path / "audit" / "consent-audit.jsonl"),
            **(recording or {}),
        }
    )
    new_pbx = base.pbx.model_copy(update={"recording": rec, **(pbx or {})})
    all_flows = dict(base.flows)
    for name, data in (flows or {}).items():
        all_flows[name] = Flow.model_validate({"flow": name, **data})
    return dataclasses.replace(base, pbx=new_pbx, flows=MappingProxyType(all_flows))


def records_of(log: MemoryRecordLog, stream: str) -> list[dict[str, Any]]:
    async def read() -> list[dict[str, Any]]:
        out = []
        async for item in log.read(stream):
            item.pop("_rid", None)
            item.pop("_ts_ms", None)
            out.append(item)
        return out

    return asyncio.run(read())


class Harness:
    """One engine + in-memory records + a fake clock; ``run`` places one scripted call."""

    def __init__(self, tmp_path: Path, clock: FakeClock | None = None, **config: Any) -> None:
        self.config = make_config(tmp_path, **config)
        self.clock = clock or FakeClock()
        self.records = MemoryRecordLog()
        self.engine = FlowEngine(self.config, records=self.records, clock=self.clock)

    def call(self, **kwargs: Any) -> ScriptedCall:
        kwargs.setdefault("clock", self.clock)
        return ScriptedCall(**kwargs)

    def run(self, call: ScriptedCall, flow: str | None = None) -> CallTrace:
        return asyncio.run(self.engine.run(call, flow=flow))

    def stream(self, name: str) -> list[dict[str, Any]]:
        return records_of(self.records, name)

    def doc(self, key: str) -> dict[str, Any] | None:
        return asyncio.run(self.records.get_doc(key))

    @property
    def audit(self) -> list[dict[str, Any]]:
        return self.engine.audit.read()


BYE = {"type": "hangup"}


def flow(nodes: dict[str, Any], start: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"start": start or next(iter(nodes)), "nodes": nodes, **extra}


def harness(tmp_path, nodes: dict[str, Any], **kw: Any) -> Harness:
    return Harness(tmp_path, flows={"t": flow(nodes, **kw)})


async def emulated_pbx(config: Config, app_port: int, workdir: Path, phone: AgentBehaviour) -> Emulator:
    """A started emulator running the dialplan ``esl-apps build`` makes of ``config`` (its socket
    actions pointing at ``app_port``), every agent's phone behaving as ``phone``. Stop it when done."""
    emu = Emulator(time_scale=0.01)
    await emu.start()
    generated_dialplan(emu, config, app_port, workdir)
    for agent in config.pbx.agents:
        for endpoint in config.pbx.dial_strings(agent):
            emu.add_endpoint(endpoint, phone)
    return emu
