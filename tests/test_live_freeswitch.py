"""The applications against a REAL FreeSWITCH (opt-in; docs/live-testing.md).

Everything else in the suite runs against the emulator, which is built from recorded
conversations; this module is where the recordings are checked against the switch itself. It is
skipped, with one reason, unless ESL_APPS_FS_HOST and a password are set and the event socket
answers. Calls are loopback pairs (no phones needed): the b-leg runs the dialplan and our
application, the a-leg parks and plays the caller (DTMF sent to it arrives on the b-leg).

Every scenario is bounded in time and kills the channels it started, pass or fail. The wire
conversation of each call is written to the test's tmp dir (wire.txt) for reading failures.
"""

from __future__ import annotations

import array
import asyncio
import math
import os
import wave
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

from esl_apps.call import BridgeOutcome, BridgeTarget, CollectResult, CollectStatus
from esl_apps.config import load_config
from esl_apps.dialplan import build_dialplan
from esl_apps.esl.fscall import FreeSwitchCall
from esl_apps.esl.inbound import AuthenticationError, InboundClient
from esl_apps.esl.outbound import OutboundSession
from esl_apps.esl.protocol import Event
from tests.support.live_fixtures import for_switch, run, settle
from tests.support.live_fs import (
    AGENT_EXTENSION,
    APP_EXTENSION,
    ENV_RECORDINGS_DIR,
    TEST_CONTEXT,
    TEST_FILE,
    CallRun,
    DialplanDir,
    FsControl,
    LiveSettings,
    refused_port,
    run_socket_call,
)

pytestmark = [pytest.mark.freeswitch, pytest.mark.usefixtures("live")]

TONE = "tone_stream://%(200,0,440);loops=2"  # 0.4 s, no sound files needed (mod_tone_stream)


def socket_test_extensions(app_host: str, app_port: int) -> str:
    """The extensions the socket tests dial: our application (``hangup_after_bridge=false``: the
    caller stays after an answered bridge the agent ends, as the application expects) and an agent
    that answers, talks 1.5 s and hangs up."""
    return f"""<include>
  <!-- written by tests/test_live_freeswitch.py and removed when it ends -->
  <extension name="{APP_EXTENSION}">
    <condition field="destination_number" expression="^{APP_EXTENSION}$">
      <action application="set" data="hangup_after_bridge=false"/>
      <action application="socket" data="{app_host}:{app_port} async full"/>
    </condition>
  </extension>
  <extension name="{AGENT_EXTENSION}">
    <condition field="destination_number" expression="^{AGENT_EXTENSION}$">
      <action application="answer"/>
      <action application="playback" data="tone_stream://%(1500,0,350)"/>
      <action application="hangup" data="NORMAL_CLEARING"/>
    </condition>
  </extension>
</include>
"""


@pytest.fixture
def socket_ext(live: LiveSettings, dialplan: DialplanDir, app_port: int) -> int:
    """The test extensions are in place (a build test may have removed them): -> the app port."""
    if dialplan.install(TEST_FILE, socket_test_extensions(live.app_host, app_port)):
        assert dialplan.reload() == "+OK [Success]"
    return app_port


def recording_path(live: LiveSettings) -> str:
    """A fresh file under ESL_APPS_FS_RECORDINGS_DIR, or skip the test."""
    if live.recordings_dir is None:
        pytest.skip(f"set {ENV_RECORDINGS_DIR} (FreeSWITCH's recordings directory) for the recording test")
    return f"{live.recordings_dir}/esl_apps_live_{uuid4().hex}.wav"


def socket_call(live: LiveSettings, app: Any, app_port: int, tmp_path: Path, **kwargs: Any) -> CallRun:
    """One loopback call to ``app`` behind the test extension (run_socket_call), settled."""
    async def scenario() -> CallRun:
        async with FsControl(live) as fs:
            return await run_socket_call(fs, app, app_port=app_port, **kwargs)

    return settle(run(scenario(), 60), tmp_path)


def did_actions(files: Mapping[str, str], context: str, number: str) -> list[tuple[str, str]]:
    """(application, data) of the generated extension of DID ``number``."""
    for relpath, text in files.items():
        if relpath.startswith(context + "/"):
            for ext in ET.fromstring(text).iter("extension"):
                actions = [(a.get("application", ""), a.get("data", "")) for a in ext.iter("action")]
                if ("set", f"esl_apps_did={number}") in actions:
                    return actions
    raise AssertionError(f"no generated extension for DID {number}")


def silence_profile(path: Path) -> tuple[float, float]:
    """(longest run of digital silence, seconds with sound) of a 16-bit WAV, in 20 ms windows."""
    with wave.open(str(path)) as wav:
        rate, width = wav.getframerate() * wav.getnchannels(), wav.getsampwidth()
        samples = array.array("h", wav.readframes(wav.getnframes()))
    assert width == 2, f"expected 16-bit PCM, got {width * 8}-bit"
    step = rate // 50
    silent = [not any(samples[i : i + step]) for i in range(0, len(samples), step)]
    longest = current = 0
    for quiet in silent:
        current = current + 1 if quiet else 0
        longest = max(longest, current)
    return longest / 50, silent.count(False) / 50


# --------------------------------------------------------------------------------------- inbound


def test_inbound_auth_api_and_bgapi(live: LiveSettings) -> None:
    async def scenario() -> None:
        async with FsControl(live) as fs:
            status = await fs.api("status")
            assert status.ok and status.body.startswith("UP "), status.body
            body = await fs.client.bgapi("status", timeout=10)  # returns once BACKGROUND_JOB arrived
            assert body.startswith("UP "), body
            jobs = [e for e in fs.events if e.name == "BACKGROUND_JOB" and e.get("Job-Command") == "status"]
            assert jobs and jobs[-1].body == body
        wrong = InboundClient(live.host, live.port, live.password + "-not-it", reconnect=False)
        with pytest.raises(AuthenticationError):
            await wrong.connect()
        await wrong.close()

    run(scenario(), 30)


# ------------------------------------------------------------------------------ outbound socket


def test_outbound_answer_play_collect_hangup(live: LiveSettings, socket_ext: int, tmp_path: Path) -> None:
    async def app(session: OutboundSession) -> tuple[str, CollectResult]:
        call = FreeSwitchCall(session)
        await call.answer()
        played = await call.play(TONE)
        digits = await call.collect(TONE, max_digits=4, tries=1, timeout_ms=5000, terminators="#")
        await call.hangup()
        return played, digits

    result = socket_call(live, app, socket_ext, tmp_path, dtmf=("12#",))
    played, digits = result.result
    assert played == "FILE PLAYED"
    assert result.dtmf_sent and result.dtmf_sent[0].startswith("+OK"), result.dtmf_sent
    assert digits == CollectResult("12", CollectStatus.SUCCESS, terminator="#")
    names = result.names()
    assert names.count("DTMF") == 3  # 1, 2 and the terminator (trace 02)
    assert "CHANNEL_HANGUP_COMPLETE" in names
    assert result.session is not None and result.session.hangup_cause == "NORMAL_CLEARING"
    # The session waited for the last event before `exit`, and FreeSWITCH said goodbye (trace 01).
    hangup_complete = result.tap.first_chunk("fs", b"Event-Name: CHANNEL_HANGUP_COMPLETE")
    exit_sent = result.tap.first_chunk("app", b"\n\nexit\n\n")
    assert hangup_complete is not None and exit_sent is not None and hangup_complete < exit_sent
    assert b"Reply-Text: +OK bye" in result.tap.stream("fs")


def test_bridge_outcomes_keep_the_caller(live: LiveSettings, socket_ext: int, tmp_path: Path) -> None:
    agent = f"loopback/{AGENT_EXTENSION}/{TEST_CONTEXT}"

    async def app(session: OutboundSession) -> dict[str, Any]:
        call = FreeSwitchCall(session)
        await call.answer()
        out: dict[str, Any] = {
            "busy": await call.bridge([BridgeTarget("error/user_busy", timeout_s=5)]),
            "no_answer": await call.bridge([BridgeTarget("error/no_answer", timeout_s=5)]),
        }
        out["up_after_failures"] = not call.hung_up
        out["played"] = await call.play(TONE)
        out["answered"] = await call.bridge([BridgeTarget(agent, timeout_s=10)])
        out["up_after_bridge"] = not call.hung_up
        await call.hangup()
        return out

    result = socket_call(live, app, socket_ext, tmp_path)
    out = result.result
    assert (out["busy"].outcome, out["busy"].cause) == (BridgeOutcome.BUSY, "USER_BUSY")
    assert (out["no_answer"].outcome, out["no_answer"].cause) == (BridgeOutcome.NO_ANSWER, "NO_ANSWER")
    assert out["up_after_failures"] and out["played"] == "FILE PLAYED"  # continue_on_fail
    answered = out["answered"]
    assert (answered.outcome, answered.cause) == (BridgeOutcome.ANSWERED, "SUCCESS")
    assert answered.ended_by == "agent"
    assert answered.other_leg_uuid
    assert out["up_after_bridge"]  # the agent hung up; the caller stays with the application
    assert "CHANNEL_BRIDGE" in result.names() and "CHANNEL_UNBRIDGE" in result.names()


def test_record_mask_unmask(live: LiveSettings, socket_ext: int, tmp_path: Path) -> None:
    path = recording_path(live)

    async def app(session: OutboundSession) -> str:
        call = FreeSwitchCall(session)
        await call.answer()
        await call.record_start(path)
        tone = asyncio.ensure_future(call.play("tone_stream://%(3000,0,440)"))
        await asyncio.sleep(0.8)
        await call.record_mask(path)  # e.g. while a card number is keyed
        await asyncio.sleep(1.0)
        await call.record_unmask(path)
        played = await tone
        await call.record_stop(path)
        await call.hangup()
        return played

    result = socket_call(live, app, socket_ext, tmp_path, events=("RECORD_START", "RECORD_STOP"))
    assert result.result == "FILE PLAYED"
    starts = [e for e in result.events if e.name == "RECORD_START"]
    stops = [e for e in result.events if e.name == "RECORD_STOP"]
    assert starts and starts[0].get("Record-File-Path") == path
    assert stops and int(stops[0].variable("record_ms") or 0) >= 2500
    local = Path(path)
    if local.is_file() and os.access(local, os.R_OK):  # FreeSWITCH runs on this machine
        longest_silence, sounding = silence_profile(local)
        assert longest_silence >= 0.6, "the masked second was not written as silence"
        assert sounding >= 1.0, "the unmasked tone is missing from the recording"
        local.unlink(missing_ok=True)


def tone_windows(path: Path, hz: float) -> list[float]:
    """Per 20 ms window of a 16-bit WAV (channels mixed), the level of ``hz`` (Goertzel)."""
    with wave.open(str(path)) as wav:
        rate, channels = wav.getframerate(), wav.getnchannels()
        samples = array.array("h", wav.readframes(wav.getnframes()))
    mono = [sum(samples[i : i + channels]) for i in range(0, len(samples), channels)]
    step, coeff = rate // 50, 2 * math.cos(2 * math.pi * hz / rate)
    levels = []
    for start in range(0, len(mono) - step + 1, step):
        s1 = s2 = 0.0
        for x in mono[start : start + step]:
            s1, s2 = x + coeff * s1 - s2, s1
        levels.append(math.sqrt(max(0.0, s1 * s1 + s2 * s2 - coeff * s1 * s2)) / step)
    return levels


def test_repeated_masks_keep_every_masked_prompt_out_of_the_recording(
    live: LiveSettings, socket_ext: int, tmp_path: Path
) -> None:
    """As a card payment does it (mask, play and collect, unmask; three times): a 1400 Hz tone
    played only while masked must never reach the file; the 440 Hz tone between masks must."""
    path = recording_path(live)

    async def app(session: OutboundSession) -> None:
        call = FreeSwitchCall(session)
        await call.answer()
        await call.record_start(path)
        for _ in range(3):
            await call.play("tone_stream://%(1000,0,440)")
            await call.record_mask(path)
            await call.play("tone_stream://%(1500,0,1400)")
            await call.record_unmask(path)
        await call.play("tone_stream://%(1000,0,440)")
        await call.record_stop(path)
        await call.hangup()

    socket_call(live, app, socket_ext, tmp_path, events=("RECORD_START", "RECORD_STOP"))
    local = Path(path)
    if not (local.is_file() and os.access(local, os.R_OK)):
        pytest.skip("the recording is not readable here (FreeSWITCH on another host)")
    masked, clear = tone_windows(local, 1400), tone_windows(local, 440)
    local.unlink(missing_ok=True)
    assert sum(level > 200 for level in clear) >= 100, "the unmasked tone is missing (4 s were played)"
    leaked = [round(i * 0.02, 2) for i, level in enumerate(masked) if level > 200]
    assert leaked == [], f"masked audio in the recording at {leaked[:10]} s"


# ------------------------------------------------------------------------ the generated dialplan


def test_generated_dialplan_falls_back_when_no_app_listens(live: LiveSettings, dialplan: DialplanDir) -> None:
    config = load_config()
    did = config.pbx.dids[0]
    context = config.pbx.dialplan.context

    async def scenario(port: int) -> list[Event]:
        async with FsControl(live) as fs:
            await fs.client.subscribe(["CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HANGUP"])
            ours = fs.b_leg_of(fs.originate(did.number.lstrip("+"), context))

            def ended(events: list[Event]) -> list[Event] | None:
                mine = [e for e in events if ours(e.headers)]
                return mine if any(
                    e.name == "CHANNEL_HANGUP"
                    or (e.name == "CHANNEL_EXECUTE" and e.get("Application") in ("voicemail", "hangup"))
                    for e in mine) else None

            return await fs.wait_for(ended, 45, "voicemail or hangup after the static fallback")

    with refused_port(live.app_host) as port:
        built = build_dialplan(for_switch(config, live.app_host, port), dialplan.root)
        assert dialplan.reload() == "+OK [Success]"
        events = run(scenario(port), 60)
    expected = did_actions(built.rendered.files, context, did.number)
    executes = [e for e in events if e.name == "CHANNEL_EXECUTE"]
    ran = [(e.get("Application"), e.get("Application-Data")) for e in executes]
    first = ran.index(expected[0])  # the stock public context may run its own actions first
    assert [app for app, _ in ran[first:]] == [app for app, _ in expected][: len(ran) - first]
    assert ("socket", f"{live.app_host}:{port} async full") in ran
    assert "bridge" in [app for app, _ in ran[first:]]
    # Connection refused: the socket application returns at once and the fallback goes on (06a).
    when = {e.name: int(e.get("Event-Date-Timestamp") or 0) for e in events
            if e.get("Application") == "socket"}
    waited_us = when["CHANNEL_EXECUTE_COMPLETE"] - when["CHANNEL_EXECUTE"]
    assert 0 <= waited_us < 2_000_000, f"socket took {waited_us / 1e6:.1f}s to give up"


