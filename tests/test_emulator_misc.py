"""Emulator behaviour outside the traces: the caller script, digit edge cases, recordings on disk,
the inbound listener (auth, bgapi, json events, sendmsg to a channel), restarting on the same
port, XML dialplans with reloadxml, and the call record's fallback / socket bookkeeping."""

from __future__ import annotations

import asyncio
import json
import stat
import uuid as uuid_mod
import wave
from collections.abc import Awaitable
from pathlib import Path

import pytest

from esl_apps.sim import CallerScript, Emulator
from esl_apps.sim.scripted import EslPeer, ScriptedApp, inbound_client

SCALE = 0.005


def run(coro: Awaitable[None]) -> None:
    asyncio.run(asyncio.wait_for(coro, 30))  # type: ignore[arg-type]


def new_id() -> str:
    return str(uuid_mod.uuid4())


async def handshake(peer: EslPeer) -> None:
    await peer.send(b"connect\n\n")
    await peer.cmd("myevents")
    await peer.cmd("linger")


async def finish(peer: EslPeer) -> None:
    await peer.notice("linger")
    await peer.cmd("exit")


async def start(handler, time_scale: float = SCALE, **emu_kwargs):  # type: ignore[no-untyped-def]
    emu = Emulator(time_scale=time_scale, **emu_kwargs)
    await emu.start()
    app = ScriptedApp(handler)
    port = await app.start()
    emu.add_extension("7100", [("socket", f"127.0.0.1:{port} async full")])
    return emu, app


async def stop(emu: Emulator, app: ScriptedApp) -> None:
    await app.stop()
    await emu.stop()
    assert not app.errors, app.errors


def test_hangup_during_names_the_application_that_triggers_the_bye() -> None:
    async def main() -> None:
        async def handler(peer: EslPeer) -> None:
            await handshake(peer)
            await peer.execute("answer", uuid=new_id())
            done = await peer.execute("play_and_get_digits", "1 4 3 5000 # silence_stream://1000 "
                                      "silence_stream://200 choice \\d+", uuid=new_id())
            assert done.get("Answer-State") == "hangup"
            assert done.variable("read_result") is None  # the prompt was cut by the hangup
            await finish(peer)

        emu, app = await start(handler)
        call = await emu.place_call("7100", script=CallerScript(hangup_during="play_and_get_digits"))
        record = await call.wait_done(10)
        await stop(emu, app)
        names = record.event_names()
        assert names.index("CHANNEL_HANGUP") < names.index("CHANNEL_UNPARK")
        assert record.app_names()[-1] == "play_and_get_digits"

    run(main())


def test_digits_without_terminator_time_out_into_success_like_freeswitch() -> None:
    async def main() -> None:
        results: list[tuple[str | None, str | None]] = []

        async def handler(peer: EslPeer) -> None:
            await handshake(peer)
            await peer.execute("answer", uuid=new_id())
            for _ in range(2):
                done = await peer.execute("play_and_get_digits", "1 4 1 2000 # silence_stream://500 "
                                          "silence_stream://100 acct", uuid=new_id())
                results.append((done.variable("acct"), done.variable("read_result")))
            done = await peer.execute("read", "1 1 silence_stream://300 one 2000 #", uuid=new_id())
            results.append((done.variable("one"), done.variable("read_result")))
            await peer.execute("hangup", uuid=new_id())
            await finish(peer)

        emu, app = await start(handler)
        call = await emu.place_call("7100", script=CallerScript(digits=["12", "", "#"]))
        record = await call.wait_done(10)
        await stop(emu, app)
        # "12" then silence: switch_ivr_read reports timeout, pagd still returns the digits.
        # Nothing: too few digits -> failure (not timeout, trace 02). A lone terminator with max 1
        # satisfies min 1 (success) but is then dropped from the variable, as switch_ivr_read does.
        assert results == [("12", "timeout"), (None, "failure"), (None, "success")]
        assert [d for _, _, d in record.dtmf] == ["1", "2", "#"]

    run(main())


def test_recording_on_disk_is_masked_and_private(tmp_path: Path) -> None:
    path = tmp_path / "call.wav"

    async def main() -> None:
        async def handler(peer: EslPeer) -> None:
            await handshake(peer)
            me = (await peer.execute("answer", uuid=new_id())).uuid
            await peer.cmd("event plain RECORD_START RECORD_STOP")
            await peer.execute("record_session", str(path), uuid=new_id())
            assert (await peer.event("RECORD_START")).get("Record-File-Path") == str(path)
            await peer.execute("playback", "silence_stream://1000", uuid=new_id())
            assert await peer.cmd(f"api uuid_record {me} mask {path}") == "+OK Success\n"
            await peer.execute("playback", "silence_stream://2000", uuid=new_id())
            assert await peer.cmd(f"api uuid_record {me} unmask {path}") == "+OK Success\n"
            await peer.execute("playback", "silence_stream://1000", uuid=new_id())
            await peer.execute("stop_record_session", str(path), uuid=new_id())
            stop_event = await peer.event("RECORD_STOP")
            # 4 s of playback; at time_scale 0.02 every real millisecond of scheduling delay on a
            # loaded machine adds 50 emulated ones, so only the lower bound is exact.
            assert 4000 <= int(stop_event.variable("record_ms") or "0") < 6000
            await peer.execute("hangup", uuid=new_id())
            await finish(peer)

        emu, app = await start(handler, time_scale=0.02)
        emu.write_recordings = True
        record = await (await emu.place_call("7100")).wait_done(10)
        await stop(emu, app)
        (rec,) = record.recordings
        start_mask, end_mask = rec.masks[0]
        assert 1.9 < end_mask - start_mask < 2.8  # 2 s of playback plus scheduling

    run(main())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with wave.open(str(path)) as wav:
        frames = wav.readframes(wav.getnframes())
        rate = wav.getframerate()
    samples = memoryview(frames).cast("h")
    middle = samples[int(2.0 * rate):int(2.8 * rate)]
    assert rate == 8000 and max(abs(s) for s in middle) == 0  # masked: digital silence
    assert max(abs(s) for s in samples[int(0.1 * rate):int(0.8 * rate)]) > 1000  # audio before the mask


def test_inbound_auth_bgapi_json_events_and_sendmsg_to_a_channel() -> None:
    async def main() -> None:
        emu = Emulator(time_scale=SCALE, inbound_password="right")
        await emu.start()
        emu.add_extension("9002", [("answer", ""), ("park", "")])
        with pytest.raises(PermissionError):
            await inbound_client(emu.inbound_port or 0, "wrong")
        client = await inbound_client(emu.inbound_port or 0, "right")
        assert await client.cmd("event json BACKGROUND_JOB CHANNEL_EXECUTE_COMPLETE") == \
            "+OK event listener enabled json"
        job = new_id()
        reply = await client.cmd("bgapi originate loopback/9002/public &park()", (("Job-UUID", job),))
        assert reply == f"+OK Job-UUID: {job}"
        done = await client.event("BACKGROUND_JOB", **{"Job-UUID": job})
        leg = (done.body or "").split()[1]
        assert done.body == f"+OK {leg}\n"
        assert await client.cmd(f"sendmsg {leg}", (("call-command", "execute"), ("execute-app-name", "set"),
                                                    ("execute-app-arg", "k=v"), ("Event-UUID", job))) == "+OK"
        complete = await client.event("CHANNEL_EXECUTE_COMPLETE", **{"Application-UUID": job})
        assert complete.variable("k") == "v"
        assert await client.cmd(f"api uuid_getvar {leg} k") == "v"
        assert await client.cmd(f"api uuid_kill {leg}") == "+OK\n"
        assert await client.cmd("sendmsg 00000000-0000-0000-0000-000000000000") == \
            "-ERR invalid session id [00000000-0000-0000-0000-000000000000]"
        raw = [m for m in client.messages if getattr(m, "name", None) == "BACKGROUND_JOB"]
        assert raw and json.dumps(dict(raw[0].headers))  # decoded from text/event-json
        await client.close()
        await emu.stop()

    run(main())


def test_emulator_restarts_on_the_same_port() -> None:
    async def main() -> None:
        emu = Emulator(time_scale=SCALE)
        await emu.start()
        port = emu.inbound_port or 0
        client = await inbound_client(port)
        await emu.stop()
        await asyncio.wait_for(client.closed.wait(), 5)
        await emu.start(port)
        assert emu.inbound_port == port
        again = await inbound_client(port)
        assert (await again.cmd("api status")).startswith("UP ")
        await again.close()
        await emu.stop()

    run(main())


def test_xml_dialplan_reloadxml_and_fallback_after_refused_socket(tmp_path: Path) -> None:
    xml = tmp_path / "public.xml"
    template = """<include><context name="public">
  <extension name="ivr"><condition field="destination_number" expression="^(7\\d\\d\\d)$">
    <action application="socket" data="127.0.0.1:{port} async full"/>
    <action application="log" data="NOTICE fallback for $1"/>
    <action application="{fallback}" data="{data}"/>
  </condition></extension>
</context></include>"""

    async def main() -> None:
        emu = Emulator(time_scale=SCALE)
        await emu.start()
        dead = ScriptedApp(lambda peer: asyncio.sleep(0))
        port = await dead.start()
        await dead.stop()  # nothing listens there any more: connection refused
        xml.write_text(template.format(port=port, fallback="hangup", data="CALL_REJECTED"))
        assert emu.load_dialplan_xml(xml) == 1
        record = await (await emu.place_call("7123")).wait_done(10)
        assert record.sockets[0].refused and not record.sockets[0].connected
        assert record.fallback_actions == [("log", "NOTICE fallback for 7123"), ("hangup", "CALL_REJECTED")]
        assert record.hangup_cause == "CALL_REJECTED"
        xml.write_text(template.format(port=port, fallback="voicemail", data="default pbx 100"))
        client = await inbound_client(emu.inbound_port or 0)
        assert await client.cmd("api reloadxml") == "+OK [Success]\n"
        record = await (await emu.place_call("7123", script=CallerScript(hangup_after_s=15))).wait_done(10)
        assert [a for a, _ in record.fallback_actions] == ["log", "voicemail"]
        assert emu.voicemails and emu.voicemails[0]["user"] == "100"
        await client.close()
        await emu.stop()

    run(main())


def test_uuid_break_cuts_playback_and_getvar_answers_raw_values() -> None:
    async def main() -> None:
        async def handler(peer: EslPeer) -> None:
            await handshake(peer)
            me = (await peer.execute("answer", uuid=new_id())).uuid
            assert await peer.cmd("getvar nosuchvar") == "-ERR command not found"
            play = new_id()
            await peer.cmd("sendmsg", (("call-command", "execute"), ("execute-app-name", "playback"),
                                       ("execute-app-arg", "tone_stream://%(1000,0,440);loops=60"),
                                       ("event-lock", "true"), ("Event-UUID", play)))
            await peer.event("CHANNEL_EXECUTE", **{"Application-UUID": play})
            assert await peer.cmd(f"api uuid_break {me}") == "+OK\n"
            done = await peer.event("CHANNEL_EXECUTE_COMPLETE", **{"Application-UUID": play})
            assert done.get("Application-Response") == "FILE PLAYED"
            assert int(done.variable("playback_ms") or "0") < 60000
            assert await peer.cmd("getvar current_application_response") == "FILE PLAYED"
            await peer.execute("hangup", "USER_BUSY", uuid=new_id())
            await finish(peer)

        emu, app = await start(handler)
        record = await (await emu.place_call("7100")).wait_done(10)
        await stop(emu, app)
        assert record.hangup_cause == "USER_BUSY"
        assert record.last_event("CHANNEL_HANGUP_COMPLETE").get("variable_hangup_cause") == "USER_BUSY"

    run(main())


def test_sendevent_reaches_subscribers_with_its_subclass() -> None:
    async def main() -> None:
        emu = Emulator(time_scale=SCALE)
        await emu.start()
        listener = await inbound_client(emu.inbound_port or 0)
        assert await listener.cmd("event plain CUSTOM esl_apps::agent") == "+OK event listener enabled plain"
        sender = await inbound_client(emu.inbound_port or 0)
        await sender.cmd("sendevent CUSTOM", (("Event-Subclass", "other::thing"),))  # not subscribed
        reply = await sender.cmd("sendevent CUSTOM", (("Event-Subclass", "esl_apps::agent"),
                                                     ("Agent", "1001")))
        assert reply.startswith("+OK ")
        event = await listener.event("CUSTOM")  # events arrive in order: the first CUSTOM seen is ours
        assert event.get("Event-Subclass") == "esl_apps::agent"
        assert event.get("Agent") == "1001" and event.get("Event-UUID") == reply.split()[1]
        await listener.close()
        await sender.close()
        await emu.stop()

    run(main())


def test_a_directory_of_bare_extension_includes_takes_the_context_from_its_folder(tmp_path: Path) -> None:
    (tmp_path / "public").mkdir()
    (tmp_path / "default").mkdir()
    (tmp_path / "public" / "00_dids.xml").write_text(
        '<include><extension name="did"><condition field="destination_number" expression="^\\+?4420$">'
        '<action application="transfer" data="2001 XML default"/></condition></extension></include>')
    (tmp_path / "default" / "10_groups.xml").write_text(
        '<include><extension name="grp"><condition field="destination_number" expression="^2001$">'
        '<action application="answer"/><action application="hangup" data="USER_BUSY"/>'
        '</condition></extension></include>')

    async def main() -> None:
        emu = Emulator(time_scale=SCALE)
        await emu.start()
        assert emu.load_dialplan_xml(tmp_path) == 2
        record = await (await emu.place_call("+4420")).wait_done(10)
        assert record.app_names() == ["set", "export", "transfer", "answer", "hangup"]
        assert record.hangup_cause == "USER_BUSY"
        await emu.stop()

    run(main())
