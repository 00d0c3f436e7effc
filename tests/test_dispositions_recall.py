"""``capture.recall_agent``: an agent who hung up first is rung back into wrap-up over inbound ESL."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from esl_apps.esl.inbound import InboundClient
from esl_apps.features.dispositions import DispositionApp
from esl_apps.features.dispositions_hotkeys import HotkeyStore
from esl_apps.features.dispositions_recall import AgentRecaller
from esl_apps.features.followups import Followups
from esl_apps.sim import AgentBehaviour, CallerScript
from esl_apps.store.records import RecordLog
from tests.support.dispositions_rig import DispositionRig, codebook, config_with, stored


def _scenario(redis_url, tmp_path, agent: AgentBehaviour):
    async def scenario():
        client = aioredis.from_url(redis_url)
        records = RecordLog(client, tmp_path / "spool")
        config = config_with(codebook(recall_agent=True, confirm=False))
        app = DispositionApp(config, records, None, Followups(config.dispositions, records),
                             hotkeys=HotkeyStore(client))
        try:
            async with DispositionRig(app) as rig:
                esl = InboundClient("127.0.0.1", rig.emu.inbound_port or 0, "any")
                await esl.connect()
                app.recaller = AgentRecaller(esl, config.pbx, ring_s=10)
                await rig.call(agent, caller=CallerScript(), wait_wrapup=False)
                await asyncio.wait_for(rig.wrapup_done.wait(), 10)
                await esl.close()
                return rig, await stored(redis_url)
        finally:
            await app.close()
            await records.close()
            await client.aclose()

    return asyncio.run(scenario())


def test_agent_hanging_up_first_is_called_back_into_wrapup(redis_url, tmp_path):
    # talks 5 s then hangs up; on the recall leg keys 20# well within that
    rig, [record] = _scenario(redis_url, tmp_path, AgentBehaviour(talk_s=5.0, wrapup_digits=["20#"]))
    assert rig.bridges[0].ended_by == "agent"
    assert record["codes"] == ["20"] and record["source"] == "agent" and record["flagged"] is False
    assert record["call_uuid"] == rig.emu.calls[0].uuid and record["agent"] == "alice"
    recall = [r for r in rig.emu.ring_log if r.call_uuid is None]  # rung by originate, not by a bridge
    assert len(recall) == 1 and recall[0].endpoint == "user/1001@pbx.example.com"


def test_an_agent_who_does_not_answer_the_recall_gets_the_default_code(redis_url, tmp_path):
    rig, records = _scenario_no_answer(redis_url, tmp_path, AgentBehaviour(talk_s=2.0))
    [record] = records
    assert record["codes"] == ["24"] and record["flagged"] is True
    assert rig.wrapups == [] and [r.outcome for r in rig.emu.ring_log] == ["answered", "no_answer"]


def _scenario_no_answer(redis_url, tmp_path, agent):
    """The agent's phone answers the call but not the recall: switch its behaviour after the bridge."""

    async def scenario():
        client = aioredis.from_url(redis_url)
        records = RecordLog(client, tmp_path / "spool")
        config = config_with(codebook(recall_agent=True, confirm=False))
        app = DispositionApp(config, records, None, Followups(config.dispositions, records),
                             hotkeys=HotkeyStore(client))
        try:
            async with DispositionRig(app) as rig:
                esl = InboundClient("127.0.0.1", rig.emu.inbound_port or 0, "any")
                await esl.connect()
                app.recaller = AgentRecaller(esl, config.pbx, ring_s=5)
                original = app.after_bridge

                async def after_bridge(*args, **kwargs):
                    rig.emu.add_endpoint("user/1001@pbx.example.com", AgentBehaviour(mode="no_answer"))
                    return await original(*args, **kwargs)

                app.after_bridge = after_bridge  # type: ignore[method-assign]
                await rig.call(agent, caller=CallerScript(), wait_wrapup=False)
                for _ in range(200):
                    if await stored(redis_url):
                        break
                    await asyncio.sleep(0.05)
                await esl.close()
                return rig, await stored(redis_url)
        finally:
            await app.close()
            await records.close()
            await client.aclose()

    return asyncio.run(scenario())
