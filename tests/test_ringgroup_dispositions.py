"""The ring-group runtime arms the agents' hotkeys before ringing and reports how answered calls
ended to the disposition app: end to end over the emulator, FreeSwitchCall and real Redis."""

from __future__ import annotations

import asyncio

from esl_apps.config import load_config
from esl_apps.features.dispositions import DispositionApp
from esl_apps.features.runtime_hooks import DispositionLink
from esl_apps.sim import AgentBehaviour
from tests.support.ringgroup_rig import Rig, make_pbx

CODEBOOK_HOTKEYS = {"1": "23", "2": "21", "5": "50"}  # conf/dispositions.yaml capture.hotkeys


def _attach(rig: Rig) -> None:
    app = DispositionApp(load_config(), rig.records)
    for node in rig.nodes:
        node.ringer.dispositions = DispositionLink(app)


def test_example_codebook_has_the_hotkeys_this_test_relies_on() -> None:
    assert dict(load_config().dispositions.capture.hotkeys) == CODEBOOK_HOTKEYS


def test_agent_hotkey_then_agent_hangs_up_stores_the_hotkey_code(redis_url, tmp_path) -> None:
    pbx = make_pbx({"sales": {"strategy": "sequential", "members": ["alice"]}})
    phones = {"alice": AgentBehaviour(answer_after_s=1.0, talk_s=4.0, hotkeys=[(1.0, "*1")])}

    async def body() -> None:
        async with Rig(redis_url, tmp_path, pbx, group="sales", phones=phones) as rig:
            _attach(rig)
            await rig.login("alice")
            call = await rig.call()
            outcome = await rig.finished(call)
            assert outcome is not None and outcome.status == "answered"
            # bound on the caller's leg before the agent rang, in the inline form (trace 04f)
            binds = [arg for _app, arg in rig.caller_apps(call, "bind_meta_app")]
            assert sorted(binds) == sorted(
                f"{key} b oi set::esl_hotkey_{cat}={code}"
                for key, code, cat in (
                    ("1", "23", "outcome"),
                    ("2", "21", "outcome"),
                    ("5", "50", "sentiment"),
                )
            )
            records = await rig.records_of("dispositions")
            mine = [r for r in records if r.get("call_uuid") == call.uuid and r.get("agent") == "alice"]
            assert len(mine) == 1
            assert mine[0]["categories"]["outcome"] == "23"  # the hotkey, not the default code "24"

    asyncio.run(body())


def test_agent_hangs_up_first_without_codes_gets_the_default_code_flagged(redis_url, tmp_path) -> None:
    pbx = make_pbx({"sales": {"strategy": "sequential", "members": ["bob"]}})
    phones = {"bob": AgentBehaviour(answer_after_s=1.0, talk_s=2.0)}

    async def body() -> None:
        async with Rig(redis_url, tmp_path, pbx, group="sales", phones=phones) as rig:
            _attach(rig)
            await rig.login("bob")
            call = await rig.call()
            await rig.finished(call)
            records = await rig.records_of("dispositions")
            mine = [r for r in records if r.get("call_uuid") == call.uuid and r.get("agent") == "bob"]
            assert len(mine) == 1
            assert mine[0]["categories"]["outcome"] == "24" and mine[0]["flagged"] is True

    asyncio.run(body())


def test_caller_hangs_up_first_leaves_the_code_to_wrap_up(redis_url, tmp_path) -> None:
    pbx = make_pbx({"sales": {"strategy": "sequential", "members": ["carol"]}})
    phones = {"carol": AgentBehaviour(answer_after_s=1.0)}

    async def body() -> None:
        async with Rig(redis_url, tmp_path, pbx, group="sales", phones=phones) as rig:
            _attach(rig)
            await rig.login("carol")
            call = await rig.call(hangup_after_s=3.0)
            await rig.finished(call)
            records = await rig.records_of("dispositions")
            # no code yet: the agent leg went to the wrap-up extension, which records it
            assert not [r for r in records if r.get("call_uuid") == call.uuid and r.get("agent") == "carol"]

    asyncio.run(body())
