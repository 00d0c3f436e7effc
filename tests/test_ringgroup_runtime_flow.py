"""The runtime behind the flow engine, with the shipped example configuration: a caller on the
support line keys through the menu to the ``queue`` node and reaches a support agent; the call's
trace, the interaction and the agent state all say so. A group whose overflow takes the call
(voicemail, callback) ends the flow with that outcome in the trace, not as a caller hangup."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from esl_apps.commands._runtime import call_handler
from esl_apps.commands._simulation import scratch_config
from esl_apps.config import Config, load_config
from esl_apps.config.pbx import OverflowRule
from esl_apps.engine import FlowEngine
from esl_apps.esl.outbound import OutboundServer
from esl_apps.features.agents import AgentStatus, AgentStore
from esl_apps.features.ringgroup_runtime import RedisGroupRinger
from esl_apps.sim import AgentBehaviour, CallerScript, Emulator
from esl_apps.store.connect import connect
from esl_apps.store.records import RecordLog
from tests.support.flow_harness import BYE, flow, make_config

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


# --------------------------------------------------------------- overflow ends the flow ----------
RING_BILLING = {
    "r": {"type": "ring_group", "group": "billing",
          "children": {"answered": "bye", "no_answer": "sorry", "busy": "sorry", "failed": "sorry"}},
    "sorry": {"type": "play", "prompt": "ivr/ivr-call_cannot_be_completed_as_dialed.wav",
              "children": {"next": "bye"}},
    "bye": BYE,
}


@dataclass
class FlowRig:
    emu: Emulator
    records: RecordLog

    async def call(self, **script: Any) -> tuple[Any, dict[str, Any]]:
        """One call into flow ``t``; returns it and its stored trace."""
        call = await self.emu.place_call("7300", caller_number="+441632960001", script=CallerScript(**script))
        await call.wait_done(20)
        for _ in range(100):  # the trace is stored just after the call's last leg is gone
            traces = [r async for r in self.records.read("calls") if r["call_uuid"] == call.uuid]
            if traces:
                return call, traces[0]
            await asyncio.sleep(0.02)
        raise AssertionError("no trace stored")


@asynccontextmanager
async def flow_rig(config: Config, redis_url: str, tmp_path: Any) -> Any:
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
        emu.add_extension("^7300$", [("set", "esl_apps_flow=t"), socket])
        yield FlowRig(emu, records)
    finally:
        await emu.stop()
        await server.stop(0.5)
        await ringer.aclose()
        await records.close()
        await client.aclose()


def test_group_overflow_to_voicemail_ends_the_flow_as_voicemail(redis_url, tmp_path) -> None:
    # Nobody is logged in: billing is all busy, and its overflow is the billing voicemail box.
    config = make_config(tmp_path, flows={"t": flow(RING_BILLING)})

    async def body() -> None:
        async with flow_rig(config, redis_url, tmp_path) as rig:
            call, trace = await rig.call(audio_s=3.0)
            assert [v["user"] for v in rig.emu.voicemails] == ["8003"]
            assert (trace["end"], trace["end_node"], trace["path"]) == ("voicemail", "r", ["r"])
            [bridge] = trace["bridges"]
            assert (bridge["status"], bridge["overflow"], bridge["end"]) == (
                "busy", "voicemail:billing", "voicemail")
            [step] = trace["steps"]
            assert step["detail"]["end"] == "voicemail" and "next" not in step
            assert not [a for a in call.record.apps if a.arg.endswith("cannot_be_completed_as_dialed.wav")]

    asyncio.run(body())


def test_group_overflow_to_a_callback_ends_the_flow_as_callback(redis_url, tmp_path) -> None:
    base = make_config(tmp_path, flows={"t": flow(RING_BILLING)})
    rule = OverflowRule.model_validate({"when": ["all_busy"], "to": {"callback": True}})
    billing = base.pbx.ring_groups["billing"].model_copy(update={"overflow": (rule,)})
    pbx = base.pbx.model_copy(update={"ring_groups": {**base.pbx.ring_groups, "billing": billing}})
    config = dataclasses.replace(base, pbx=pbx)

    async def body() -> None:
        async with flow_rig(config, redis_url, tmp_path) as rig:
            call, trace = await rig.call(digits=["1"])  # "if this is correct, press 1"
            [request] = [r async for r in rig.records.read("callbacks")]
            assert (request["number"], request["group"]) == ("+441632960001", "billing")
            assert (trace["end"], trace["end_node"], trace["path"]) == ("callback", "r", ["r"])
            [bridge] = trace["bridges"]
            assert (bridge["overflow"], bridge["end"]) == ("callback", "callback")
            assert bridge["callback_request"] == request["request_id"]
            assert rig.emu.voicemails == []
            assert call.record.hangup_cause == "NORMAL_CLEARING"  # hung up for the caller, who kept waiting

    asyncio.run(body())
