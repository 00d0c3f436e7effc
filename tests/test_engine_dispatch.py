"""Connections routed by the generated dialplan's ``esl_apps_entry``: agent feature codes and
internal calls to a group, through the emulator running the dialplan ``esl-apps build`` writes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from esl_apps.commands._dispatch import CallRouter
from esl_apps.commands._runtime import call_handler
from esl_apps.engine import FlowEngine
from esl_apps.esl.outbound import OutboundServer
from esl_apps.features.agents import AgentStatus, AgentStore
from esl_apps.sim.scripts import AgentBehaviour, CallerScript
from esl_apps.store.connect import connect
from esl_apps.store.records import MemoryRecordLog
from tests.support.flow_harness import emulated_pbx, make_config


async def _with_stack(tmp_path, redis_url, body):
    config = make_config(tmp_path)
    records = MemoryRecordLog()
    client = connect(redis_url)
    agents = AgentStore(client, "t")
    engine = FlowEngine(config, records=records, clock=lambda: datetime(2026, 11, 23, 10, tzinfo=UTC))
    server = OutboundServer(call_handler(CallRouter(config, engine, agents=agents)), "127.0.0.1", 0)
    await server.start()
    emu = await emulated_pbx(config, server.port, tmp_path, AgentBehaviour(mode="no_answer"))
    try:
        return await body(emu, agents)
    finally:
        await emu.stop()
        await server.stop(1)
        await client.aclose()


def test_feature_codes_log_in_pause_and_log_out_the_calling_agent(tmp_path, redis_url):
    async def body(emu, agents):
        states = []
        for code in ("*21", "*2312", "*24", "*22"):
            call = await emu.place_call(code, caller_number="1001", context="default", script=CallerScript())
            record = await call.wait_done(10)
            state = await agents.get("alice")
            states.append((state.status, state.reason))
            assert record.fallback_actions == []  # served by esl-apps, not the reorder-tone fallback
        return states, record

    states, record = asyncio.run(_with_stack(tmp_path, redis_url, body))
    assert [s for s, _ in states] == [
        AgentStatus.AVAILABLE, AgentStatus.PAUSED, AgentStatus.AVAILABLE, AgentStatus.LOGGED_OUT,
    ]  # fmt: skip
    assert states[1][1] == "12"  # *23 followed by the reason code
    assert [a.arg for a in record.apps if a.app == "playback"] == [
        "tone_stream://%(200,100,600);%(200,100,800)"
    ]


def test_login_and_unpause_codes_wake_queued_callers(tmp_path, redis_url):
    # Queues wait on <prefix>:notify:agents (queue_signals); *21 and *24 make alice available.
    async def body(emu, agents):
        listener = agents.redis.pubsub()
        await listener.subscribe("t:notify:agents")
        try:
            assert (await listener.get_message(timeout=5))["type"] == "subscribe"
            for code in ("*21", "*2312", "*24", "*22"):
                call = await emu.place_call(code, caller_number="1001", context="default",
                                            script=CallerScript())
                await call.wait_done(10)
            messages = []
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 1.0
            while loop.time() < deadline:  # everything published has arrived by then
                message = await listener.get_message(ignore_subscribe_messages=True, timeout=0.1)
                if message is not None:
                    messages.append(message["data"])
            return messages
        finally:
            await listener.aclose()

    assert asyncio.run(_with_stack(tmp_path, redis_url, body)) == ["alice", "alice"]  # login, unpause


def test_feature_code_from_an_unknown_phone_is_refused(tmp_path, redis_url):
    async def body(emu, agents):
        call = await emu.place_call("*21", caller_number="5550", context="default", script=CallerScript())
        return await call.wait_done(10)

    record = asyncio.run(_with_stack(tmp_path, redis_url, body))
    plays = [a.arg for a in record.apps if a.app == "playback"]
    assert plays == ["tone_stream://%(500,100,300)"]


def test_internal_call_to_a_group_extension_rings_the_group(tmp_path, redis_url):
    async def body(emu, agents):
        call = await emu.place_call("2003", caller_number="1001", context="default", script=CallerScript())
        return await call.wait_done(20)

    record = asyncio.run(_with_stack(tmp_path, redis_url, body))
    rang = {r.endpoint for r in record.ring_attempts}
    assert rang == {"user/1007@pbx.example.com", "sofia/internal/sip:1008@pbx.example.com"}
    assert any(a.app == "socket" for a in record.apps)
