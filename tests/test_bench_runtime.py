"""The runtime benchmark's load generator speaks FreeSWITCH faithfully (its figures mean nothing otherwise).

No timing is asserted here: the figures belong to scripts/bench_runtime.py.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"
sys.path.insert(0, str(SCRIPTS))

import bench_runtime_templates as tpl  # noqa: E402
from bench_runtime_call import fs_split  # noqa: E402
from bench_runtime_gen import Generator  # noqa: E402

from esl_apps.call import BridgeTarget, CollectStatus  # noqa: E402
from esl_apps.esl.fscall import FreeSwitchCall  # noqa: E402
from esl_apps.esl.outbound import OutboundServer, OutboundSession  # noqa: E402
from esl_apps.esl.protocol import EslParser, Event  # noqa: E402
from esl_apps.esl.tracefile import read_trace  # noqa: E402

TRACES = Path(__file__).resolve().parent / "fixtures" / "esl-traces"


def _received(name: str, section: int) -> list[bytes]:
    return [e.data for e in read_trace(TRACES / name)[section].messages("received")]


def test_templates_rebuild_the_recorded_messages_byte_for_byte() -> None:
    templates = tpl.load(TRACES)
    wire = _received("03c-outbound-bridge-answer.txt", 1)
    events = [m for data in wire for m in EslParser().feed(data) if isinstance(m, Event)]
    uuid = events[0].headers["Unique-ID"]
    complete = next(
        e for e in events if e.name == "CHANNEL_EXECUTE_COMPLETE" and e.get("Application") == "bridge"
    )
    values = tpl.values(uuid, complete.get("Application-UUID") or "", complete.get("Application-Data") or "")
    assert templates.connect_reply.render(tpl.values(uuid)) == wire[0]
    assert templates.bridge[3].render(values) in wire


def test_collect_template_carries_the_apps_variable_and_digits() -> None:
    templates = tpl.load(TRACES, did="+442071234567", caller="+441632960001")
    values = tpl.values("u" * 36, "a" * 36, "x", "play_and_get_digits", "menu_choice", "42")
    data = templates.collect[1].render(values)
    (event,) = EslParser().feed(data)
    assert event.get("variable_menu_choice") == "42"
    assert event.get("variable_ivr_choice") is None
    assert event.get("Application-UUID") == "a" * 36
    (reply,) = EslParser().feed(templates.connect_reply.render(tpl.values("u" * 36)))
    assert reply.headers["Caller-Destination-Number"] == "+442071234567"
    assert reply.headers["Caller-Caller-ID-Number"] == "+441632960001"


def test_fs_split_keeps_single_quoted_arguments_together() -> None:
    args = fs_split("1 4 1 5000 # 'say:For sales, press 1' silence_stream://250 choice \\d+")
    assert args[5] == "say:For sales, press 1"
    assert args[7] == "choice"


@pytest.mark.parametrize("digits", ["7", "123"])
def test_generator_runs_the_six_step_flow_against_esl_apps(digits: str) -> None:
    seen: list[tuple[str, str | None]] = []

    async def handler(session: OutboundSession) -> None:
        call = FreeSwitchCall(session)
        await call.answer()
        await call.play("welcome.wav")
        result = await call.collect("menu.wav", max_digits=4, variable="choice")
        seen.append((result.status.name, result.digits))
        await call.play("thanks.wav")
        bridged = await call.bridge([BridgeTarget("sofia/external/agent1@127.0.0.1:5091", timeout_s=15)])
        seen.append(("bridge", bridged.outcome.name))
        await call.hangup()

    async def run() -> Generator:
        server = OutboundServer(handler, "127.0.0.1", 0, max_calls=10)
        await server.start()
        try:
            gen = Generator("127.0.0.1", server.port, os.getpid(), digits=(digits,))
            await gen.run(3, 30.0, 0.3, drain_s=20.0)
            return gen
        finally:
            await server.stop(1)

    gen = asyncio.run(run())
    stats = gen.stats
    assert (stats.completed, stats.failed, stats.refused, stats.unfinished) == (3, 0, 0, 0)
    assert stats.unexpected == {}
    assert len(stats.setup) == 3
    # answer, playback x2, play_and_get_digits, set, bridge, hangup: each measured once per call
    assert {k: len(v) for k, v in stats.by_app.items()} == {
        "answer": 3, "playback": 6, "play_and_get_digits": 3, "set": 3, "bridge": 3, "hangup": 3,
    }
    assert seen.count((CollectStatus.SUCCESS.name, digits)) == 3
    assert seen.count(("bridge", "ANSWERED")) == 3
