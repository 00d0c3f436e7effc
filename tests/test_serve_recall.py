"""`serve` with capture.recall_agent opens inbound ESL so an agent who hung up first can be rung
back into wrap-up; without a reachable FreeSWITCH it still serves (default codes instead)."""

from __future__ import annotations

import asyncio
import dataclasses

from esl_apps.commands.serve import Service
from esl_apps.sim.emulator import Emulator
from tests.support.flow_harness import make_config
from tests.support.redis_server import free_port


def _config(tmp_path, port: int):  # type: ignore[no-untyped-def]
    base = make_config(tmp_path)
    capture = base.dispositions.capture.model_copy(update={"recall_agent": True})
    codebook = base.dispositions.model_copy(update={"capture": capture})
    esl = base.pbx.esl.model_copy(update={"port": port})
    return dataclasses.replace(base, dispositions=codebook, pbx=base.pbx.model_copy(update={"esl": esl}))


def _service(config, tmp_path, redis_url) -> Service:  # type: ignore[no-untyped-def]
    return Service(
        config, listen=("127.0.0.1", 0), health=None, redis_url=redis_url, spool_dir=tmp_path / "spool"
    )


def test_recall_agent_connects_inbound_esl(tmp_path, redis_url, monkeypatch) -> None:
    monkeypatch.setenv("ESL_APPS_ESL_PASSWORD", "s3cret-lab")

    async def scenario() -> None:
        emu = Emulator(inbound_password="s3cret-lab")
        await emu.start()
        service = _service(_config(tmp_path, emu.inbound_port), tmp_path, redis_url)
        try:
            await service.start()
            assert service.inbound is not None
            assert service.wrapup.recaller is not None
            reply = await service.inbound.api("status")
            assert reply.ok
        finally:
            await service.stop()
            await emu.stop()

    asyncio.run(scenario())


def test_recall_agent_without_freeswitch_still_serves(tmp_path, redis_url, monkeypatch) -> None:
    monkeypatch.setenv("ESL_APPS_ESL_PASSWORD", "s3cret-lab")

    async def scenario() -> None:
        service = _service(_config(tmp_path, free_port()), tmp_path, redis_url)
        try:
            await service.start()
            assert service.inbound is None and service.wrapup.recaller is None
            assert service.port > 0
        finally:
            await service.stop()

    asyncio.run(scenario())
