"""A caller, a bridged agent and the agent's wrap-up leg, all through the emulator over real TCP.

The caller's connection plays the ring-group runtime's part in miniature (arm hotkeys, bridge to
the agent with transfer_after_bridge and the leg variables, then ``after_bridge``), the wrap-up
connection is handled by ``DispositionApp.handle``, exactly as ``serve`` dispatches it.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

import redis.asyncio as aioredis
import yaml

from esl_apps import resources
from esl_apps.call import BridgeTarget, Call, CallHangup
from esl_apps.config import Config
from esl_apps.config.dispositions import Codebook
from esl_apps.config.pbx import PbxConfig
from esl_apps.esl.fscall import FreeSwitchCall
from esl_apps.esl.outbound import OutboundServer
from esl_apps.features.dispositions import DispositionApp, DispositionResult, is_wrapup
from esl_apps.features.dispositions_hotkeys import arm_hotkeys
from esl_apps.sim import AgentBehaviour, CallerScript, Emulator

AGENT_ENDPOINT = "user/1001@pbx.example.com"
CALLER = "+447700900123"


def codebook(**capture: Any) -> Codebook:
    """The shipped codebook with ``capture`` keys overridden."""
    data = yaml.safe_load((resources.example_conf_dir() / "dispositions.yaml").read_text())
    data["capture"] = {**data.get("capture", {}), **capture}
    return Codebook.model_validate(data)


@cache
def _example_pbx() -> PbxConfig:
    return PbxConfig.model_validate(yaml.safe_load((resources.example_conf_dir() / "pbx.yaml").read_text()))


def config_with(book: Codebook | None = None, **pbx: Any) -> Config:
    """The shipped pbx.yaml and codebook (no IVR flows: dispositions never run one)."""
    base = _example_pbx()
    return Config(
        pbx=base.model_copy(update=pbx) if pbx else base,
        dispositions=book or codebook(),
        flows=MappingProxyType({}),
        files=(),
    )


class DispositionRig:
    """Start with ``async with DispositionRig(app) as rig``; then ``await rig.call(...)``."""

    def __init__(self, app: DispositionApp, *, time_scale: float = 0.01) -> None:
        self.app = app
        self.emu = Emulator(time_scale=time_scale)
        self.server = OutboundServer(self._handle, "127.0.0.1", 0, max_linger_s=30)
        self.wrapups: list[DispositionResult] = []
        self.bridges: list[Any] = []
        self.wrapup_done = asyncio.Event()
        self.errors: list[BaseException] = []

    async def __aenter__(self) -> DispositionRig:
        await self.emu.start()
        await self.server.start()
        socket = f"127.0.0.1:{self.server.port} async full"
        self.emu.add_extension("7100", [("socket", socket)])
        wrapup = [("set", "esl_apps_entry=wrapup"), ("socket", socket)]
        self.emu.add_extension("7140", wrapup, context="default")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.server.stop(grace_s=1)
        await self.emu.stop()

    async def _handle(self, session: Any) -> None:
        call = FreeSwitchCall(session)
        try:
            if is_wrapup(call):
                result = await self.app.handle(call)
                self.wrapups.append(result)
                self.wrapup_done.set()
            else:
                await self._caller(call)
        except CallHangup:
            raise
        except BaseException as exc:  # surfaced by the test, not swallowed by the transport
            self.errors.append(exc)
            raise

    async def _caller(self, call: Call) -> None:
        await call.answer()
        await arm_hotkeys(call, self.app.codebook)
        leg_vars = {
            "transfer_after_bridge": "7140:XML:default",
            "esl_customer_uuid": call.uuid,
            "esl_agent_id": "alice",
            "esl_group": "sales",
            "esl_customer_number": call.caller_number,
        }
        target = BridgeTarget(AGENT_ENDPOINT, timeout_s=20, agent_id="alice", leg_vars=leg_vars)
        result = await call.bridge([target])
        self.bridges.append(result)
        if result.answered:
            await self.app.after_bridge(call, agent="alice", group="sales", ended_by=result.ended_by,
                                        offered_at_ms=1_795_000_000_000)
        if not call.hung_up:
            await call.hangup()

    async def calls(self, count: int, agent: AgentBehaviour, timeout_s: float = 60.0) -> list[str]:
        """``count`` callers at once, each answered by the agent and wrapped up; their uuids.

        The callers talk 300 emulated seconds (3 s real at the default scale): with many calls at
        once on an accelerated clock and a loaded machine, a shorter call could end before the
        application has even started its bridge, and then no wrap-up leg exists to count."""
        self.emu.add_endpoint(AGENT_ENDPOINT, agent)
        placed = [
            await self.emu.place_call("7100", caller_number=f"+4477009{n:05d}",
                                      script=CallerScript(hangup_after_s=300.0))
            for n in range(count)
        ]
        await asyncio.gather(*(p.wait_done(timeout_s) for p in placed))
        deadline = asyncio.get_running_loop().time() + timeout_s
        while len(self.wrapups) < count and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        if self.errors:
            raise self.errors[0]
        return [p.uuid for p in placed]

    async def call(
        self,
        agent: AgentBehaviour,
        *,
        caller: CallerScript | None = None,
        timeout_s: float = 20.0,
        wait_wrapup: bool = True,
    ) -> None:
        self.emu.add_endpoint(AGENT_ENDPOINT, agent)
        placed = await self.emu.place_call(
            "7100", caller_number=CALLER, script=caller or CallerScript(hangup_after_s=10.0)
        )
        await placed.wait_done(timeout_s)
        if wait_wrapup:
            await asyncio.wait_for(self.wrapup_done.wait(), timeout_s)
        if self.errors:
            raise self.errors[0]

    def apps(self, name: str) -> list[tuple[str, str]]:
        """(how it ran, argument) of every run of application ``name`` in the calls placed so far."""
        return [(run.via, run.arg) for call in self.emu.calls for run in call.record.apps if run.app == name]


async def stored(redis_url: str, stream: str = "dispositions") -> list[dict[str, Any]]:
    from esl_apps.store.records import RecordLog

    client = aioredis.from_url(redis_url)
    try:
        log = RecordLog(client, Path("/nonexistent-spool-for-reading"), auto_replay=False)
        return [r async for r in log.read(stream)]
    finally:
        await client.aclose()


def clean(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    return path


def records_by(records: list[Mapping[str, Any]], key: str) -> dict[Any, Mapping[str, Any]]:
    return {r[key]: r for r in records}
