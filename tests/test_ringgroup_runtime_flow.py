"""The runtime behind the flow engine, with the shipped example configuration: a caller on the
support line keys through the menu to the ``queue`` node and reaches a support agent; the call's
trace, the interaction and the agent state all say so."""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import UTC, datetime, timedelta

from esl_apps.commands._runtime import call_handler
from esl_apps.commands._simulation import scratch_config
from esl_apps.config import load_config
from esl_apps.engine import FlowEngine
from esl_apps.esl.outbound import OutboundServer
from esl_apps.features.agents import AgentStatus, AgentStore
from esl_apps.features.ringgroup_runtime import RedisGroupRinger
from esl_apps.sim import AgentBehaviour, CallerScript, Emulator
from esl_apps.store.connect import connect
from esl_apps.store.records import RecordLog

SUPPORT_LINE = "+442071234568"
MONDAY_10AM = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def test_support_line_queue_node_reaches_a_support_agent(redis_url, tmp_path) -> None:
    config = scratch_config(load_config(), tmp_path / "work")
    pbx = config.pbx

    async def body() -> None:
        emu = Emulator(time_scale=0.01)
        client = connect(redis_url)
        records = RecordLog(client, tmp_path / "spool")

        def clock() -> datetime:
            return MONDAY_10AM + timedelta(seconds=emu.clock.elapsed())

        ringer = RedisGroupRinger.from_config(config, client, records, owner_id="node-a", clock=clock,
                                              sleep=emu.clock.sleep)
        engine = FlowEngine(config, records=records, clock=clock, ringer=ringer,
                            logger=logging.getLogger("test.flow"))
        server = OutboundServer(call_handler(engine), "127.0.0.1", 0)
        await server.start()
        await emu.start()
        try:
            socket = ("socket", f"127.0.0.1:{server.port} async full")
            emu.add_extension(f"^{re.escape(SUPPORT_LINE)}$", [socket])
            emu.add_extension("7140", [("hangup", "NORMAL_CLEARING")], "default")
            for agent in pbx.agents:
                behaviour = AgentBehaviour(answer_after_s=2.0, talk_s=20.0, mode="answer")
                for endpoint in pbx.dial_strings(agent):
                    emu.add_endpoint(endpoint, behaviour)
            agents = AgentStore(client)
            await agents.login("erin")  # dave and frank are not working today
            call = await emu.place_call(SUPPORT_LINE, caller_number="+441632960001",
                                        script=CallerScript(digits=["1", "1", "12345678#"]))
            await call.wait_done(20)
            await asyncio.sleep(0.1)
            [trace] = [r async for r in records.read("calls")]
            assert "queue" in trace["path"] and trace["path"][-1] == "hangup"
            [interaction] = [r async for r in records.read("interactions")]
            assert (interaction["group"], interaction["queue"]) == ("support", "support")
            assert interaction["agent"] == "erin"
            assert interaction["did"] == SUPPORT_LINE and interaction["outcome"] == "answered"
            assert interaction["queue_position"] == 1
            assert [a.endpoint for a in call.record.ring_attempts] == ["user/1005@pbx.example.com"]
            assert (await agents.get("erin")).status is AgentStatus.WRAP_UP  # support wrap-up is 30 s
        finally:
            await emu.stop()
            await server.stop(0.5)
            await ringer.aclose()
            await records.close()
            await client.aclose()

    asyncio.run(body())
