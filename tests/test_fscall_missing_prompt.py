"""A digit collection whose prompt file is missing on the switch (seen on FreeSWITCH 1.11.1 with the
example flows and no sound packages): switch_ivr_read clears read_result and gives up before
collecting, so every try passes in an instant. FreeSwitchCall collects again with what can still be
played, so the caller can key: emulator (TCP) -> OutboundServer -> FreeSwitchCall."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from esl_apps.call import CollectStatus
from esl_apps.esl.collect import without_files
from esl_apps.esl.fscall import FreeSwitchCall
from esl_apps.esl.outbound import OutboundServer, OutboundSession
from esl_apps.sim import CallerScript, Emulator

SCALE = 0.005


@pytest.mark.parametrize(("prompt", "left"), [
    ("file_string://ivr/gone.wav!say:Press 1!tone_stream://%(100,0,440)",
     "file_string://say:Press 1!tone_stream://%(100,0,440)"),
    ("file_string://ivr/a.wav!say:Press 1", "say:Press 1"),
    ("ivr/gone.wav", "silence_stream://250"),
    ("say:Press 1", "say:Press 1"),  # nothing to leave out: no second attempt
])
def test_without_files_keeps_what_the_switch_can_still_play(prompt: str, left: str) -> None:
    assert without_files(prompt) == left


def run_collect(prompt: str, press_on_attempt: int) -> tuple[Any, list[str]]:
    """The app collects with `prompt`; the caller keys 2 once the `press_on_attempt`-th
    play_and_get_digits is running; -> (result, prompts of every play_and_get_digits run)."""

    async def main() -> tuple[Any, list[str]]:
        emu = Emulator(time_scale=SCALE)
        emu.missing_files.add("ivr/gone.wav")
        await emu.start()
        results: list[Any] = []

        async def handler(session: OutboundSession) -> None:
            call = FreeSwitchCall(session)
            await call.answer()
            results.append(await call.collect(prompt, tries=3, timeout_ms=5000))
            await call.hangup()

        server = OutboundServer(handler, "127.0.0.1", 0)
        await server.start()
        emu.add_extension("7100", [("socket", f"127.0.0.1:{server.port} async full")])
        try:
            call = await emu.place_call("7100", script=CallerScript())
            for _ in range(500):
                collects = [a for a in call.record.apps if a.app == "play_and_get_digits"]
                if len(collects) >= press_on_attempt:
                    call.press("2")
                    break
                await asyncio.sleep(0.01)
            record = await call.wait_done(20)
        finally:
            await emu.stop()
            await server.stop(1)
        return results[0], [a.arg.split()[5] for a in record.apps if a.app == "play_and_get_digits"]

    return asyncio.run(main())


def test_a_menu_whose_file_is_missing_on_the_switch_still_takes_the_callers_key(caplog) -> None:
    caplog.set_level(logging.WARNING)
    result, prompts = run_collect("file_string://ivr/gone.wav!say:Press 2", press_on_attempt=2)
    assert result.status is CollectStatus.SUCCESS and result.digits == "2"
    assert prompts == ["'file_string://ivr/gone.wav!say:Press", "'say:Press"]  # (split at the blank)
    assert "could not play the prompt file_string://ivr/gone.wav!say:Press 2" in caplog.text


def test_a_prompt_that_plays_is_collected_once() -> None:
    result, prompts = run_collect("say:Press 2", press_on_attempt=1)
    assert result.status is CollectStatus.SUCCESS and result.digits == "2"
    assert len(prompts) == 1
