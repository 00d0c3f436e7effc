"""Ringing and bridging behaviour beyond the recorded traces: unregistered/unknown endpoints,
rejects, continue_on_fail lists, all-legs-failed causes, the caller giving up while agents ring,
the ring log, leg_delay_start, exported variables, and agent-first originate (callback dialer)."""

from __future__ import annotations

import asyncio
import uuid as uuid_mod
from collections.abc import Awaitable, Callable

from esl_apps.sim import AgentBehaviour, CallerScript, Emulator
from esl_apps.sim.scripted import EslPeer, ScriptedApp, inbound_client

SCALE = 0.005
A1 = "sofia/external/agent1@127.0.0.1:5091"
A2 = "sofia/external/agent2@127.0.0.1:5092"


def run(coro: Awaitable[None]) -> None:
    asyncio.run(asyncio.wait_for(coro, 30))  # type: ignore[arg-type]


async def handshake(peer: EslPeer) -> dict[str, str]:
    reply = await peer.send(b"connect\n\n")
    assert await peer.cmd("myevents") == "+OK Events Enabled"
    assert await peer.cmd("linger") == "+OK will linger"
    return dict(reply.headers)  # type: ignore[union-attr]


async def with_app(handler: Callable[[EslPeer], Awaitable[None]], setup: Callable[[Emulator], None],
                   script: CallerScript | None = None, destination: str = "7100",
                   time_scale: float = SCALE):  # type: ignore[no-untyped-def]
    emu = Emulator(time_scale=time_scale)
    await emu.start()
    app = ScriptedApp(handler)
    port = await app.start()
    emu.add_extension("7100", [("socket", f"127.0.0.1:{port} async full")])
    emu.add_extension("7140", [("socket", f"127.0.0.1:{port} async full")])
    setup(emu)
    call = await emu.place_call(destination, script=script or CallerScript())
    record = await call.wait_done(20)
    await app.stop()
    await emu.stop()
    assert not app.errors, app.errors
    return emu, record, app


def new_id() -> str:
    return str(uuid_mod.uuid4())


async def bridge_and_hangup(peer: EslPeer, dialstring: str, *, continue_on_fail: str | None = None):  # type: ignore[no-untyped-def]
    await handshake(peer)
    await peer.execute("answer", uuid=new_id())
    if continue_on_fail:
        await peer.execute("set", f"continue_on_fail={continue_on_fail}", uuid=new_id())
    done = await peer.execute("bridge", dialstring, uuid=new_id())
    peer.result = done  # type: ignore[attr-defined]
    if done.get("Answer-State") != "hangup":
        await peer.cmd("sendmsg", (("call-command", "hangup"), ("hangup-cause", "NORMAL_CLEARING")))
    await peer.notice("linger")
    await peer.cmd("exit")


def test_unknown_user_is_subscriber_absent_and_unregistered_fails_at_once() -> None:
    async def main() -> None:
        async def handler(peer: EslPeer) -> None:
            await bridge_and_hangup(peer, "user/1001@pbx.example.com,user/1002@pbx.example.com",
                                    continue_on_fail="true")

        emu, record, app = await with_app(handler, lambda e: e.add_endpoint(
            "user/1002@pbx.example.com", AgentBehaviour(mode="unregistered")))
        done = app.peers[0].result
        assert done.variable("originate_disposition") == "USER_NOT_REGISTERED"
        assert done.variable("DIALSTATUS") == "USER_NOT_REGISTERED"
        assert done.variable("originate_causes") is None  # no leg was created
        assert [a.outcome for a in emu.ring_log] == ["unregistered", "unregistered"]
        assert record.hangup_cause == "NORMAL_CLEARING"  # continue_on_fail kept the caller

    run(main())


def test_reject_is_call_rejected_with_dontcall() -> None:
    async def main() -> None:
        async def handler(peer: EslPeer) -> None:
            await bridge_and_hangup(peer, f"{{leg_timeout=5}}{A1}")

        _, record, app = await with_app(handler, lambda e: e.add_endpoint(A1, AgentBehaviour(mode="reject")))
        done = app.peers[0].result
        assert done.variable("originate_disposition") == "CALL_REJECTED"
        assert done.variable("DIALSTATUS") == "DONTCALL"
        assert done.variable("last_bridge_proto_specific_hangup_cause") == "sip:603"
        assert done.get("Answer-State") == "hangup" and record.hangup_cause == "CALL_REJECTED"
        names = record.event_names()
        bridge_done = max(i for i, n in enumerate(names) if n == "CHANNEL_EXECUTE_COMPLETE")
        assert names.index("CHANNEL_HANGUP") < bridge_done

    run(main())


def test_continue_on_fail_list_keeps_listed_causes_only() -> None:
    async def main() -> None:
        async def listed(peer: EslPeer) -> None:
            await bridge_and_hangup(peer, f"{{leg_timeout=5}}{A1}", continue_on_fail="USER_BUSY,NO_ANSWER")

        busy = lambda e: e.add_endpoint(A1, AgentBehaviour(mode="busy"))  # noqa: E731
        _, record, app = await with_app(listed, busy)
        assert app.peers[0].result.get("Answer-State") == "answered"
        assert record.hangup_cause == "NORMAL_CLEARING"

        ringing = lambda e: e.add_endpoint(A1, AgentBehaviour(mode="no_answer"))  # noqa: E731
        _, record, app = await with_app(listed, ringing)  # ALLOTTED_TIMEOUT is not in the list
        assert app.peers[0].result.get("Answer-State") == "hangup"
        assert record.hangup_cause == "ALLOTTED_TIMEOUT"

    run(main())


def test_simultaneous_legs_all_failing_report_every_cause() -> None:
    async def main() -> None:
        async def handler(peer: EslPeer) -> None:
            await bridge_and_hangup(peer, f"{{leg_timeout=3}}{A1},{A2}", continue_on_fail="true")

        def setup(emu: Emulator) -> None:
            emu.add_endpoint(A1, AgentBehaviour(mode="busy", busy_after_s=0.5))
            emu.add_endpoint(A2, AgentBehaviour(mode="no_answer"))

        emu, _, app = await with_app(handler, setup)
        causes = app.peers[0].result.variable("originate_causes")
        assert causes.startswith("ARRAY::") and causes.count("|:") == 1
        assert causes.endswith(";ALLOTTED_TIMEOUT") and ";USER_BUSY|:" in causes
        assert app.peers[0].result.variable("originate_disposition") == "ALLOTTED_TIMEOUT"
        assert sorted(a.outcome for a in emu.ring_log) == ["busy", "no_answer"]

    run(main())


def test_caller_giving_up_cancels_ringing_agents_without_events() -> None:
    async def main() -> None:
        async def handler(peer: EslPeer) -> None:
            await handshake(peer)
            await peer.execute("answer", uuid=new_id())
            done = await peer.execute("bridge", f"{{leg_timeout=30}}{A1},{A2}", uuid=new_id())
            assert done.get("Hangup-Cause") == "NORMAL_CLEARING"
            peer.result = done  # type: ignore[attr-defined]
            await peer.notice("linger")
            await peer.cmd("exit")

        def setup(emu: Emulator) -> None:
            emu.add_endpoint(A1, AgentBehaviour(mode="no_answer"))
            emu.add_endpoint(A2, AgentBehaviour(mode="no_answer"))

        emu, record, app = await with_app(handler, setup, CallerScript(hangup_after_s=2.0))
        assert [a.outcome for a in emu.ring_log] == ["cancelled", "cancelled"]
        assert app.peers[0].result.variable("originate_disposition") == "ORIGINATOR_CANCEL"
        between = [e.name for e in app.peers[0].messages if hasattr(e, "name")]
        bridge_at = between.index("CHANNEL_EXECUTE", between.index("CHANNEL_EXECUTE_COMPLETE"))
        assert between[bridge_at + 1] == "CHANNEL_HANGUP"  # nothing while they rang
        assert all(leg.done_event.is_set() for leg in record.legs.values())

    run(main())


def test_sequential_ring_log_never_overlaps_and_delay_start_is_honoured() -> None:
    async def main() -> None:
        async def handler(peer: EslPeer) -> None:
            await bridge_and_hangup(peer, f"[leg_timeout=2]{A1}|[leg_timeout=2,leg_delay_start=1]{A2}",
                                    continue_on_fail="true")

        def setup(emu: Emulator) -> None:
            emu.add_endpoint(A1, AgentBehaviour(mode="no_answer"))
            emu.add_endpoint(A2, AgentBehaviour(mode="no_answer"))

        emu, _, _ = await with_app(handler, setup, time_scale=0.05)  # durations are asserted: less jitter
        first, second = emu.ring_log
        assert first.endpoint == A1 and second.endpoint == A2
        assert first.end is not None and second.start >= first.end + 0.9
        assert abs((first.end - first.start) - 2.0) < 0.3

    run(main())


def test_exported_variables_reach_the_agent_leg() -> None:
    async def main() -> None:
        seen: dict[str, str] = {}

        async def handler(peer: EslPeer) -> None:
            data = await handshake(peer)
            if data["Caller-Destination-Number"] == "7140":
                seen.update(data)
                await peer.execute("hangup", uuid=new_id())
                await peer.notice("linger")
                await peer.cmd("exit")
                return
            await peer.execute("answer", uuid=new_id())
            await peer.execute("export", "queue_name=sales", uuid=new_id())
            await peer.execute("bridge", f"{{transfer_after_bridge=7140:XML:public}}{A1}", uuid=new_id())
            await peer.notice("linger")
            await peer.cmd("exit")

        await with_app(handler, lambda e: e.add_endpoint(A1, AgentBehaviour(answer_after_s=0.5)),
                       CallerScript(hangup_after_s=2.0))
        assert seen["variable_queue_name"] == "sales"
        assert seen["Call-Direction"] == "outbound"
        assert seen["variable_transfer_history"].endswith(":bl_xfer:7140/public/XML")

    run(main())


def test_agent_first_originate_runs_the_extension_and_reports_failures() -> None:
    async def main() -> None:
        emu = Emulator(time_scale=SCALE, inbound_password="s3cret")
        await emu.start()
        arrived: list[dict[str, str]] = []
        finished = asyncio.Event()

        async def handler(peer: EslPeer) -> None:
            arrived.append(await handshake(peer))
            await peer.execute("hangup", uuid=new_id())
            await peer.notice("linger")
            await peer.cmd("exit")
            finished.set()

        app = ScriptedApp(handler)
        port = await app.start()
        emu.add_extension("callback", [("socket", f"127.0.0.1:{port} async full")], context="agents")
        emu.add_endpoint("user/1001@pbx", AgentBehaviour(answer_after_s=1.0))
        client = await inbound_client(emu.inbound_port or 0, "s3cret")
        agent_uuid = new_id()
        body = await client.cmd(f"api originate {{origination_uuid={agent_uuid},originate_timeout=5}}"
                                "user/1001@pbx callback XML agents")
        assert body == f"+OK {agent_uuid}\n"
        assert await client.cmd("api originate user/2002@pbx &park()") == "-ERR SUBSCRIBER_ABSENT\n"
        await asyncio.wait_for(finished.wait(), 10)
        await client.close()
        await app.stop()
        await emu.stop()
        assert arrived and arrived[0]["Unique-ID"] == agent_uuid
        assert arrived[0]["Caller-Destination-Number"] == "callback"
        assert arrived[0]["Call-Direction"] == "outbound"
        assert [a.outcome for a in emu.ring_log] == ["answered", "unregistered"]

    run(main())


def test_uuid_transfer_of_the_agent_leg_ends_the_bridge_and_runs_the_extension() -> None:
    async def main() -> None:
        agent_legs: list[dict[str, str]] = []

        async def handler(peer: EslPeer) -> None:
            data = await handshake(peer)
            if data["Caller-Destination-Number"] == "7140":
                agent_legs.append(data)
                await peer.execute("hangup", uuid=new_id())
                await peer.notice("linger")
                await peer.cmd("exit")
                return
            await peer.execute("answer", uuid=new_id())
            bridge = new_id()
            await peer.cmd("sendmsg", (("call-command", "execute"), ("execute-app-name", "bridge"),
                                       ("execute-app-arg", A1), ("event-lock", "true"),
                                       ("Event-UUID", bridge)))
            bridged = await peer.event("CHANNEL_BRIDGE")
            agent = bridged.get("Other-Leg-Unique-ID")
            assert await peer.cmd(f"api uuid_transfer {agent} 7140 XML public") == "+OK\n"
            done = await peer.event("CHANNEL_EXECUTE_COMPLETE", **{"Application-UUID": bridge})
            assert done.get("Answer-State") == "answered"  # the caller stays, the app keeps control
            await peer.execute("hangup", uuid=new_id())
            await peer.notice("linger")
            await peer.cmd("exit")

        agent = AgentBehaviour(answer_after_s=0.5)
        _, record, _ = await with_app(handler, lambda e: e.add_endpoint(A1, agent))
        assert agent_legs and agent_legs[0]["Call-Direction"] == "outbound"
        assert record.bridges[0].ended_by == "agent"

    run(main())
