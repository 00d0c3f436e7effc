"""Callback dialers against the emulator's inbound ESL listener and a real Redis."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import MappingProxyType
from typing import Any

import redis.asyncio as aioredis

from esl_apps.config import Config
from esl_apps.config.pbx import PbxConfig
from esl_apps.esl.inbound import InboundClient
from esl_apps.features.agents import AgentStore
from esl_apps.features.callback_dialer import CallbackDialer, DialerOptions
from esl_apps.features.callback_store import CallbackStore
from esl_apps.features.dnc import DncList
from esl_apps.sim import AgentBehaviour, Emulator
from esl_apps.store.pick import GroupPicker
from esl_apps.store.records import RecordLog
from tests.support.dispositions_rig import codebook

PASSWORD = "test-only-esl-password"
GATEWAY = "sofia/gateway/carrier"


def callback_config(agents: int = 6, *, max_attempts: int = 3, backoff: tuple[int, ...] = (0,),
                    **callbacks: Any) -> Config:
    ids = [f"a{n:02d}" for n in range(1, agents + 1)]
    pbx = PbxConfig.model_validate({
        "domain": "cb.test",
        "esl": {"password_env": "ESL_APPS_TEST_PASSWORD"},
        "agents": [
            {"id": a, "name": a, "endpoints": [f"user/{2000 + i}@cb.test"]} for i, a in enumerate(ids, 1)
        ],
        "ring_groups": {"cb": {"name": "Callbacks", "strategy": "longest_idle", "members": ids,
                               "ring_timeout": 10, "wrapup_seconds": 0}},
        "callbacks": {"caller_id": "+442070000000", "dial_template": GATEWAY + "/{number}",
                      "max_attempts": max_attempts, "retry_backoff_seconds": list(backoff), **callbacks},
    })
    return Config(pbx=pbx, dispositions=codebook(), flows=MappingProxyType({}), files=())


class CallbackRig:
    def __init__(self, redis_url: str, spool: Path, config: Config, *, time_scale: float = 0.01) -> None:
        self.redis_url = redis_url
        self.spool = spool
        self.config = config
        self.emu = Emulator(time_scale=time_scale, inbound_password=PASSWORD)
        self.client = aioredis.from_url(redis_url)
        self.store = CallbackStore(self.client)
        self.dnc = DncList(self.client)
        self.agents = AgentStore(self.client)
        self.records = RecordLog(self.client, spool)
        self.dialers: list[CallbackDialer] = []
        self._clients: list[InboundClient] = []

    async def __aenter__(self) -> CallbackRig:
        await self.emu.start()
        for n, agent in enumerate(self.config.pbx.agents, 1):
            self.emu.add_endpoint(f"user/{2000 + n}@cb.test", AgentBehaviour(answer_after_s=0.5))
            await self.agents.login(agent.id)
        return self

    async def __aexit__(self, *exc: object) -> None:
        for dialer in self.dialers:
            await dialer.close()
        for client in self._clients:
            await client.close()
        await self.emu.stop()
        await self.records.close()
        await self.client.aclose()

    def customer(self, number: str, behaviour: AgentBehaviour | None = None) -> None:
        # talk_s leaves room for the bridge: at time_scale 0.01 an emulated second is only 10 ms.
        answers = AgentBehaviour(answer_after_s=1.0, talk_s=20.0)
        self.emu.add_endpoint(f"{GATEWAY}/{number}", behaviour or answers)

    async def dialer(self, options: DialerOptions | None = None) -> CallbackDialer:
        esl = InboundClient("127.0.0.1", self.emu.inbound_port or 0, PASSWORD)
        await esl.connect()
        self._clients.append(esl)
        dialer = CallbackDialer(
            self.config, store=self.store, dnc=self.dnc, picker=GroupPicker(self.client), agents=self.agents,
            esl=esl, records=self.records,
            options=options or DialerOptions(poll_interval_s=0.05, max_parallel=10),
        )
        self.dialers.append(dialer)
        return dialer

    async def run_until_done(self, dialers: list[CallbackDialer], timeout_s: float = 60.0) -> None:
        """Run the dialers until no request of group cb is open any more."""
        await self.store.ingest(self.records.stream_key("callbacks"))  # or the loop could end at once
        stop = asyncio.Event()
        tasks = [asyncio.ensure_future(d.run(stop=stop)) for d in dialers]
        try:
            deadline = asyncio.get_running_loop().time() + timeout_s
            while await self.store.open_requests("cb"):
                if asyncio.get_running_loop().time() > deadline:
                    raise TimeoutError(f"{len(await self.store.open_requests('cb'))} requests still open")
                await asyncio.sleep(0.05)
        finally:
            stop.set()
            await asyncio.gather(*tasks)

    def rings(self, number: str) -> int:
        endpoint = f"{GATEWAY}/{number}"
        return sum(1 for ring in self.emu.ring_log if ring.endpoint == endpoint)

    async def events(self) -> list[dict[str, Any]]:
        return [r async for r in self.records.read("callbacks")]
