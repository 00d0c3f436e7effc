"""Wrap-up capture end to end: emulator (FreeSWITCH over TCP) -> OutboundServer -> FreeSwitchCall ->
DispositionApp, with the disposition read back from a real Redis."""

from __future__ import annotations

import asyncio
from pathlib import Path

import redis.asyncio as aioredis

from esl_apps.features.callback_store import CallbackStore
from esl_apps.features.dispositions import DispositionApp
from esl_apps.features.dispositions_hotkeys import HotkeyStore
from esl_apps.features.dnc import DncList
from esl_apps.features.followups import Followups
from esl_apps.sim import AgentBehaviour, CallerScript
from esl_apps.store.records import RecordLog
from tests.support.dispositions_rig import DispositionRig, codebook, config_with, stored


def run(coro):
    return asyncio.run(coro)


async def _wrapup(redis_url: str, tmp_path: Path, agent: AgentBehaviour, **app_kw):
    client = aioredis.from_url(redis_url)
    records = RecordLog(client, tmp_path / "spool")
    config = app_kw.pop("config", None) or config_with()
    followups = Followups(config.dispositions, records, dnc=DncList(client), callbacks=CallbackStore(client))
    app = DispositionApp(config, records, None, followups, hotkeys=HotkeyStore(client), **app_kw)
    try:
        async with DispositionRig(app) as rig:
            await rig.call(agent)
            return rig, await stored(redis_url)
    finally:
        await app.close()
        await records.close()
        await client.aclose()


def test_agent_keys_two_codes_and_confirms(redis_url, tmp_path):
    rig, records = run(_wrapup(redis_url, tmp_path, AgentBehaviour(wrapup_digits=["23*40#", "1"])))
    [record] = records
    assert record["codes"] == ["23", "40"]
    assert record["categories"] == {"outcome": "23", "intent": "40"}
    assert record["source"] == "agent" and record["flagged"] is False
    assert record["agent"] == "alice" and record["group"] == "sales"
    assert record["call_uuid"] == rig.emu.calls[0].uuid
    assert record["number"] == "+447700900123"


def test_invalid_code_is_refused_then_valid_code_stored(redis_url, tmp_path):
    rig, records = run(_wrapup(redis_url, tmp_path, AgentBehaviour(wrapup_digits=["99#", "20#", "1"])))
    [record] = records
    assert record["codes"] == ["20"] and record["flagged"] is False
    spoken = [arg for _, arg in rig.apps("speak")]
    assert "flite|kal|That entry is not valid." in spoken
    # the code was read back before the agent confirmed it
    assert ("socket", "en number iterated 20") in rig.apps("say")


def test_two_codes_of_one_single_valued_category_are_invalid(redis_url, tmp_path):
    agent = AgentBehaviour(wrapup_digits=["20*21#", "21*50#", "1"])
    _, records = run(_wrapup(redis_url, tmp_path, agent))
    [record] = records
    assert record["codes"] == ["21", "50"]
    assert record["categories"] == {"outcome": "21", "sentiment": "50"}


def test_re_entry_after_pressing_2_at_the_read_back(redis_url, tmp_path):
    _, records = run(_wrapup(redis_url, tmp_path, AgentBehaviour(wrapup_digits=["20#", "2", "21#", "1"])))
    assert records[0]["codes"] == ["21"]


def test_silence_gets_the_default_code_flagged(redis_url, tmp_path):
    rig, records = run(_wrapup(redis_url, tmp_path, AgentBehaviour(wrapup_digits=[])))
    [record] = records
    assert record["codes"] == ["24"] and record["flagged"] is True and record["source"] == "default"
    assert len([a for a in rig.apps("play_and_get_digits")]) == 3  # capture.max_tries


def test_garbage_never_stores_a_code(redis_url, tmp_path):
    agent = AgentBehaviour(wrapup_digits=["9*9#", "1**#", "77#"])
    _, records = run(_wrapup(redis_url, tmp_path, agent))
    [record] = records
    assert record["codes"] == ["24"] and record["flagged"] is True


def test_wrapup_timer_applies_the_default_code(redis_url, tmp_path):
    slow = AgentBehaviour(wrapup_digits=["20#"], first_digit_after_s=500.0)
    _, records = run(_wrapup(redis_url, tmp_path, slow, wrapup_timeout_s=0.4, prompt_timeout_ms=600_000))
    [record] = records
    assert record["codes"] == ["24"] and record["flagged"] is True and record["ending"] == "timeout"


def test_single_mode_asks_for_the_missing_required_category(redis_url, tmp_path):
    config = config_with(codebook(mode="single", confirm=False))
    agent = AgentBehaviour(wrapup_digits=["40#", "23#"])
    rig, records = run(_wrapup(redis_url, tmp_path, agent, config=config))
    assert records[0]["codes"] == ["40", "23"]
    prompts = [arg for _, arg in rig.apps("play_and_get_digits")]
    assert "Please enter the Call outcome code" in prompts[1]


def test_mid_call_hotkeys_cover_the_outcome_so_wrapup_asks_nothing(redis_url, tmp_path):
    config = config_with(codebook(hotkeys={"1": "23", "5": "50"}))
    agent = AgentBehaviour(answer_after_s=1.0, hotkeys=[(0.5, "*1"), (1.0, "*5")])
    rig, records = run(_wrapup(redis_url, tmp_path, agent, config=config))
    [record] = records
    assert record["codes"] == ["23", "50"] and record["source"] == "hotkey" and record["flagged"] is False
    assert rig.apps("play_and_get_digits") == []
    sets = [arg for via, arg in rig.apps("set") if via == "inline"]
    assert sets == ["esl_hotkey_outcome=23", "esl_hotkey_sentiment=50"]  # ran during the bridge
    assert ("socket", "1 b oi set::esl_hotkey_outcome=23") in rig.apps("bind_meta_app")


def test_hotkey_then_wrapup_asks_only_for_the_outcome(redis_url, tmp_path):
    config = config_with(codebook(hotkeys={"5": "50"}))
    agent = AgentBehaviour(hotkeys=[(0.5, "*5")], wrapup_digits=["20#", "1"])
    rig, records = run(_wrapup(redis_url, tmp_path, agent, config=config))
    [record] = records
    assert record["codes"] == ["50", "20"] and record["hotkey_codes"] == ["50"]
    assert record["source"] == "agent"
    [first, *_] = [arg for _, arg in rig.apps("play_and_get_digits")]
    assert "Please enter the Call outcome code" in first


def test_agent_hanging_up_first_gets_the_default_code(redis_url, tmp_path):
    async def scenario():
        client = aioredis.from_url(redis_url)
        records = RecordLog(client, tmp_path / "spool")
        app = DispositionApp(config_with(), records, None, Followups(config_with().dispositions, records),
                             hotkeys=HotkeyStore(client))
        try:
            async with DispositionRig(app) as rig:
                await rig.call(AgentBehaviour(talk_s=2.0), caller=CallerScript(), wait_wrapup=False)
                return rig, await stored(redis_url)
        finally:
            await records.close()
            await client.aclose()

    rig, records = run(scenario())
    [record] = records
    assert rig.bridges[0].ended_by == "agent" and rig.wrapups == []
    assert record["codes"] == ["24"] and record["flagged"] is True
    assert record["ending"] == "agent_hung_up_first"
