"""Loopback pairs as FreeSWITCH 1.11.1 runs them (observed on the real switch with raw ESL; the live
suite, tests/test_live_freeswitch.py, drives the same calls): the b-leg rings until its extension
answers, the pair answers together, the originate returns only then; `uuid_send_dtmf` to the a-leg
queues the digits on the b-leg, where a collection takes them at once and an idle park uses them up."""

from __future__ import annotations

import asyncio
import uuid as uuid_mod
from collections.abc import Awaitable, Callable
from typing import Any

from esl_apps.esl.protocol import Event
from esl_apps.sim import Emulator
from esl_apps.sim.scripted import EslPeer, ScriptedApp, inbound_client

SCALE = 0.005
COLLECT = "1 4 1 5000 # tone_stream://%(400,0,440) silence_stream://250 obs_choice \\d+"


def new_id() -> str:
    return str(uuid_mod.uuid4())


App = Callable[[EslPeer, EslPeer], Awaitable[dict[str, Any]]]


async def loopback_call(app: App, originate_vars: str = "") -> dict[str, Any]:
    """Originate a loopback pair whose b-leg runs `socket` to `app(peer, inbound client)`; -> what
    was seen, with what the app returned."""
    emu = Emulator(time_scale=SCALE)
    await emu.start()
    client = await inbound_client(emu.inbound_port or 0)
    seen: dict[str, Any] = {}
    finished = asyncio.Event()

    async def handler(peer: EslPeer) -> None:
        try:
            seen["connect"] = await peer.send(b"connect\n\n")
            await peer.cmd("myevents")
            await peer.cmd("linger")
            seen.update(await app(peer, client))
            await peer.execute("hangup", uuid=new_id())
            await peer.notice("linger")
            await peer.cmd("exit")
            seen["dtmf"] = peer.events("DTMF")
        finally:
            finished.set()

    scripted = ScriptedApp(handler)
    port = await scripted.start()
    emu.add_extension("obs_app", [("socket", f"127.0.0.1:{port} async full")])
    try:
        assert await client.cmd("event plain DTMF CHANNEL_ANSWER BACKGROUND_JOB") == \
            "+OK event listener enabled plain"
        a_leg = new_id()
        job = new_id()
        await client.cmd(f"bgapi originate {{origination_uuid={a_leg},origination_caller_id_number=5550001"
                         f"{originate_vars}}}loopback/obs_app/public &park()", (("Job-UUID", job),))
        seen["job"] = await client.event("BACKGROUND_JOB", **{"Job-UUID": job})
        seen["a_leg"] = a_leg
        await asyncio.wait_for(finished.wait(), 20)
        seen["all_dtmf"] = client.events("DTMF")
        seen["answers"] = [e.get("Unique-ID") for e in client.events("CHANNEL_ANSWER")]
    finally:
        await scripted.stop()
        await client.close()
        await emu.stop()
    assert not scripted.errors, scripted.errors
    return seen


def collect_with_dtmf_sent_after(delay_s: float) -> App:
    """The app answers, then collects; the test keys 12# on the a-leg `delay_s` after the collection
    started (negative: before it, while the b-leg idles under the socket)."""

    async def app(peer: EslPeer, client: EslPeer) -> dict[str, Any]:
        me = (await peer.execute("answer", uuid=new_id())).uuid
        a_leg = (await peer.cmd("getvar other_loopback_leg_uuid"))
        if delay_s < 0:
            assert await client.cmd(f"api uuid_send_dtmf {a_leg} 12#") == f"+OK {a_leg} sent DTMF 12#.\n"
            await asyncio.sleep(-delay_s * SCALE)
            # The idle park's frames reach the last digit before the collection starts (waited for,
            # not timed: on a busy machine the sleep above can end before the park's frames ran).
            await peer.event("DTMF", **{"DTMF-Digit": "#"})
        collect = asyncio.ensure_future(peer.execute("play_and_get_digits", COLLECT, uuid=new_id()))
        await peer.event("CHANNEL_EXECUTE", Application="play_and_get_digits")
        if delay_s >= 0:
            await asyncio.sleep(delay_s * SCALE)
            await client.cmd(f"api uuid_send_dtmf {a_leg} 12#")
        return {"done": await collect, "me": me}

    return app


def test_digits_sent_to_the_a_leg_complete_the_b_legs_collection_at_once() -> None:
    seen = asyncio.run(loopback_call(collect_with_dtmf_sent_after(0.5)))
    done: Event = seen["done"]
    assert done.variable("read_result") == "success"
    assert done.variable("obs_choice") == "12"
    assert done.variable("read_terminator_used") == "#"
    dtmf = seen["dtmf"]
    assert [e.get("DTMF-Digit") for e in dtmf] == ["1", "2", "#"]
    assert {(e.get("DTMF-Duration"), e.get("DTMF-Source")) for e in dtmf} == {("2000", "UNKNOWN")}
    assert not any(h.startswith("variable_") for e in dtmf for h in e.headers)
    # every DTMF event the switch fired is the b-leg's: none on the a-leg the digits were sent to
    assert {e.get("Unique-ID") for e in seen["all_dtmf"]} == {seen["me"]}


def test_digits_sent_while_the_b_leg_idles_are_used_up_before_the_collection() -> None:
    seen = asyncio.run(loopback_call(collect_with_dtmf_sent_after(-1.0)))
    done: Event = seen["done"]
    assert done.variable("read_result") == "failure"  # the park loop read them, one per 20 ms frame
    assert done.variable("obs_choice") is None
    assert [e.get("DTMF-Digit") for e in seen["dtmf"]] == ["1", "2", "#"]


def test_the_b_leg_rings_until_its_app_answers_and_the_originate_waits_for_it() -> None:
    async def app(peer: EslPeer, client: EslPeer) -> dict[str, Any]:
        await asyncio.sleep(2.0 * SCALE)  # the app takes 2 s before answering
        before = [e.name for e in client.events("BACKGROUND_JOB")]
        await peer.execute("answer", uuid=new_id())
        return {"job_before_answer": before}

    seen = asyncio.run(loopback_call(app, ",originate_timeout=30"))
    connect = seen["connect"]
    assert connect.headers["Answer-State"] == "ringing"
    assert connect.headers["Channel-Call-State"] == "RINGING"
    assert connect.headers["Caller-Channel-Answered-Time"] == "0"
    assert connect.headers["Caller-Caller-ID-Number"] == "5550001"
    a_leg = seen["a_leg"]
    assert connect.headers["variable_other_loopback_leg_uuid"] == a_leg
    assert connect.headers["variable_loopback_leg"] == "B"
    assert connect.headers["variable_origination_uuid"] == a_leg  # the {} variables reach the b-leg
    b_leg = connect.headers["Unique-ID"]
    assert seen["answers"] == [a_leg, b_leg]  # together, the a-leg first
    assert seen["job"].body == f"+OK {a_leg}\n"
    assert seen["job_before_answer"] == []


def test_an_originate_whose_b_leg_never_answers_fails_with_no_answer() -> None:
    async def main() -> str:
        emu = Emulator(time_scale=SCALE)
        await emu.start()
        emu.add_extension("rings", [("park", "")])  # parks without answering
        client = await inbound_client(emu.inbound_port or 0)
        try:
            return await client.cmd("api originate {originate_timeout=5}loopback/rings/public &park()",
                                    timeout=10)
        finally:
            await client.close()
            await emu.stop()

    assert asyncio.run(main()) == "-ERR NO_ANSWER\n"
