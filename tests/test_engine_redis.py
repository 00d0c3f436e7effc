"""The call trace and consent decision in a real Redis: keyed by UUID, with a TTL, and few writes.

The goal from the issue is at most 6 Redis round trips per call for trace + consent; the records
layer does one script call per record, so a full call through consent costs 2.
"""

from __future__ import annotations

import asyncio

from esl_apps.engine import FlowEngine
from esl_apps.store.connect import connect
from esl_apps.store.records import RecordLog
from tests.support.flow_harness import make_config
from tests.support.scripted_call import FakeClock, ScriptedCall, answer_by


class RoundTrips:
    """Counts commands the client sends (each is one round trip; a script call counts once)."""

    def __init__(self, client) -> None:
        self.count = 0
        self._send = client.execute_command
        client.execute_command = self._counting

    async def _counting(self, *args, **kwargs):
        self.count += 1
        return await self._send(*args, **kwargs)


def test_trace_and_consent_are_stored_with_ttl_in_two_round_trips(tmp_path, redis_url):
    config = make_config(tmp_path)

    async def scenario():
        client = connect(redis_url)
        records = RecordLog(client, tmp_path / "spool", "t1", auto_replay=False)
        engine = FlowEngine(config, records=records, clock=FakeClock())
        call = ScriptedCall(
            inputs=[None, "1"], bridge=answer_by("bob", ended_by="caller"), clock=engine.clock
        )
        await records.append("warmup", {"x": 1})  # loads the script once, as a running server would
        counter = RoundTrips(client)
        trace = await engine.run(call)
        round_trips = counter.count
        doc = await records.get_doc(f"trace:{call.uuid}")
        consent = await records.get_doc(f"consent:{call.uuid}")
        ttl = await client.ttl(records.doc_key(f"trace:{call.uuid}"))
        consent_ttl = await client.ttl(records.doc_key(f"consent:{call.uuid}"))
        await client.aclose()
        return call, trace, doc, consent, ttl, consent_ttl, round_trips

    call, trace, doc, consent, ttl, consent_ttl, round_trips = asyncio.run(scenario())
    assert round_trips <= 6
    assert round_trips == 2  # one consent record, one trace record
    assert doc["path"] == trace.path == ["hours", "consent", "vip_check", "main_menu", "sales"]
    assert doc["end"] == "bridged" and doc["bridges"][0]["answered_by"] == "bob"
    assert 30 * 86400 - 60 < ttl <= 30 * 86400  # pbx redis.trace_ttl_days: 30
    assert consent["decision"] == "consented" and consent["call_uuid"] == call.uuid
    assert consent_ttl == -1  # consent decisions are kept


def test_traces_survive_a_redis_outage_through_the_spool(tmp_path, redis_url, redis_server):
    config = make_config(tmp_path)

    async def scenario():
        client = connect(redis_url)
        records = RecordLog(client, tmp_path / "spool", "t2", auto_replay=False)
        engine = FlowEngine(config, records=records, clock=FakeClock())
        redis_server.stop()
        try:
            call = ScriptedCall(inputs=["9", "2", "#"], clock=engine.clock)
            trace = await engine.run(call)
        finally:
            redis_server.start()
        replayed = await records.replay()
        doc = await records.get_doc(f"trace:{call.uuid}")
        await client.aclose()
        return trace, replayed, doc

    trace, replayed, doc = asyncio.run(scenario())
    assert trace.end != "error"
    assert replayed == 2
    assert doc["path"] == trace.path
