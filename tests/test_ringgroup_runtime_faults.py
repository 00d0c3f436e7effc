"""Faults: Redis stops while calls are waiting and arriving. The calls still reach a human (every
configured member rung at once), the records are spooled to disk and reach Redis once it is back;
without Redis at all (``esl-apps simulate``) the same fallback applies."""

from __future__ import annotations

import asyncio
import logging

from esl_apps.engine.ringer import RingContext
from esl_apps.features.ringgroup_runtime import RedisGroupRinger
from esl_apps.sim import AgentBehaviour
from esl_apps.store.records import MemoryRecordLog
from tests.support.ringgroup_rig import Rig, make_pbx
from tests.support.scripted_call import ScriptedCall, answer_by


def test_redis_stopped_mid_test_loses_nothing_and_calls_reach_an_agent(redis_url, redis_server, tmp_path):
    pbx = make_pbx(
        {"support": {"strategy": "round_robin", "members": ["alice", "bob"], "queue": "support",
                     "voicemail": "sales"}},
        {"support": {"group": "support", "announce_position_every": 0}},
    )
    phones = {"alice": AgentBehaviour(answer_after_s=1, talk_s=20),
              "bob": AgentBehaviour(answer_after_s=2, talk_s=3)}

    async def body() -> None:
        async with Rig(redis_url, tmp_path, pbx, group="support", phones=phones) as rig:
            store = await rig.login("alice", "bob")
            await store.pause("bob", "lunch")
            busy = await rig.call()  # alice takes it and stays
            await asyncio.sleep(0.05)
            waiting = await rig.call()  # nobody free: waits in the queue
            await asyncio.sleep(0.05)
            assert rig.caller_apps(waiting, "play_and_get_digits") or rig.caller_apps(waiting, "playback")
            redis_server.stop()
            try:
                # the waiting caller leaves the line and everyone is rung; so is a new caller
                arriving = await rig.call()
                for call in (waiting, arriving):
                    outcome = await rig.finished(call)
                    assert outcome is not None and outcome.status == "answered"
                    assert outcome.detail["fallback"] == "redis_unavailable"
                    assert {agent for agent, _ in rig.rings(call)} == {"alice", "bob"}
                spool = rig.nodes[0].ringer.records.spool  # type: ignore[attr-defined]
                assert spool.has_pending()
            finally:
                redis_server.start()
            busy.hangup()
            await rig.finished(busy)
            await rig.nodes[0].ringer.records.replay()  # type: ignore[attr-defined]
            stored = {r["call_uuid"]: r for r in await rig.records_of("interactions")}
            assert stored[waiting.uuid]["outcome"] == "answered"
            assert stored[waiting.uuid]["queue"] == "support"
            assert stored[arriving.uuid]["outcome"] == "answered"
            assert sorted(stored[arriving.uuid]["agents_rung"]) == ["alice", "bob"]
            assert not rig.nodes[0].ringer.records.spool.has_pending()  # type: ignore[attr-defined]

    asyncio.run(body())


def test_without_redis_every_member_is_rung_then_the_overflow_applies():
    pbx = make_pbx({"sales": {"strategy": "round_robin", "members": ["alice", "bob"], "voicemail": "sales"}})

    async def body() -> None:
        records = MemoryRecordLog()
        ringer = RedisGroupRinger(None, records, pbx)
        ctx = RingContext(pbx=pbx, flow="t", node="n", variables={}, logger=logging.getLogger("t"))
        answered = ScriptedCall(bridge=answer_by("bob"))
        outcome = await ringer.ring(answered, "sales", ctx)
        assert outcome.status == "answered" and outcome.answered_by == "bob"
        [(_, endpoints, simultaneous)] = answered.of("bridge")
        assert simultaneous and endpoints == ("user/1001@pbx.example.com", "user/1002@pbx.example.com")
        nobody = ScriptedCall(bridge=answer_by("carol"))
        outcome = await ringer.ring(nobody, "sales", ctx)
        assert outcome.detail["end"] == "voicemail"
        assert nobody.of("voicemail") == [("voicemail", "8001", "pbx.example.com", "default")]
        interactions = [r async for r in records.read("interactions")]
        assert [r["outcome"] for r in interactions] == ["answered", "voicemail"]
        assert interactions[1]["overflow_to"] == "voicemail:sales"

    asyncio.run(body())
