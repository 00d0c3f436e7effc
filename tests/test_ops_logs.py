"""Structured logs: every line written while a call is handled carries that call's UUID, whoever
writes it (the engine, Redis and spool code, an event listener running in the socket callback, a
task or a thread the handler started), and concurrent calls never borrow each other's UUID."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest

from esl_apps.commands._runtime import call_handler, setup_logging
from esl_apps.config import load_config
from esl_apps.esl.outbound import OutboundServer
from esl_apps.sim import CallerScript, Emulator
from tests.support.faults_rig import CALLER, DID, build_dialplan, free_port, write_config

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """setup_logging as serve does it, into a buffer; the root logger is restored afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    buffer = io.StringIO()
    setup_logging("DEBUG", stream=buffer)
    try:
        yield buffer
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)


def lines_of(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]  # every line is JSON


class ChattyApp:
    """Logs from every place a call's code can run."""

    def __init__(self) -> None:
        self.log = logging.getLogger("test.ops.chatty")
        self.children: list[asyncio.Task[None]] = []

    async def handle(self, call: Any) -> None:
        uuid = call.uuid
        self.log.info("handler start %s", uuid)
        call.session.add_event_listener(lambda event: self.log.info("listener %s %s", uuid, event.name))

        async def child() -> None:
            await asyncio.sleep(0.01)
            self.log.info("child task %s", uuid)

        self.children.append(asyncio.create_task(child()))
        await asyncio.to_thread(self.log.info, "thread %s", uuid)
        await call.answer()
        await call.play("ivr/ivr-welcome.wav")
        self.log.warning("handler end %s", uuid)
        await call.hangup()


def test_every_line_of_concurrent_calls_names_its_own_call(json_log):
    async def scenario() -> list[str]:
        app = ChattyApp()
        server = OutboundServer(call_handler(app), "127.0.0.1", 0)
        await server.start()
        emu = Emulator(time_scale=0.01)
        await emu.start()
        emu.add_extension("7100", [("socket", f"127.0.0.1:{server.port} async full")])
        calls = [await emu.place_call("7100", script=CallerScript()) for _ in range(5)]
        await asyncio.gather(*(call.wait_done(10) for call in calls))
        await asyncio.gather(*app.children)
        await emu.stop()
        await server.stop(1)
        return [call.uuid for call in calls]

    uuids = asyncio.run(scenario())
    chatty = [line for line in lines_of(json_log) if line["logger"] == "test.ops.chatty"]
    kinds = {line["msg"].split(" ")[0] for line in chatty}
    assert kinds == {"handler", "listener", "child", "thread"}
    for uuid in uuids:
        own = [line for line in chatty if uuid in line["msg"]]
        assert len(own) >= 10  # start, thread, child, end, and the listener's events
        assert {line["call_uuid"] for line in own} == {uuid}
    for line in json_log.getvalue().splitlines():
        data = json.loads(line)
        assert {"ts", "level", "logger"} <= data.keys()


def test_serve_lines_about_a_call_carry_its_uuid(json_log, tmp_path, redis_url):
    """The real stack (router, engine, consent, records): a line that names a call in its text
    names it in ``call_uuid`` too, and nothing the engine writes lacks it."""
    from esl_apps.commands.serve import Service

    port = free_port()
    conf, flows = write_config(tmp_path, app_port=port, redis_url=redis_url)
    dirs = build_dialplan(conf, flows, tmp_path / "dialplan")
    config = load_config(conf, flows)

    async def scenario() -> list[str]:
        service = Service(config, listen=("127.0.0.1", port), health=None, redis_url=redis_url,
                          spool_dir=tmp_path / "spool", grace_s=1)
        await service.start()
        emu = Emulator(time_scale=0.01)
        await emu.start()
        for directory in dirs:
            emu.load_dialplan_xml(directory)
        digits = [["", "9"], ["9", "9"], ["", "4", "1"], ["", "7"]]
        calls = [
            await emu.place_call(DID, caller_number=CALLER, script=CallerScript(digits=d)) for d in digits
        ]
        await asyncio.gather(*(call.wait_done(20) for call in calls))
        await asyncio.sleep(0.05)
        await emu.stop()
        await service.stop()
        return [call.uuid for call in calls]

    uuids = asyncio.run(scenario())
    lines = lines_of(json_log)
    engine = [line for line in lines if line["logger"].startswith("esl_apps.engine")]
    assert len(engine) >= 4 * 4
    assert all(line.get("call_uuid") in uuids for line in engine)
    for line in lines:
        named = set(UUID.findall(line.get("msg", ""))) & set(uuids)
        if named:
            assert named == {line.get("call_uuid")}, line
    for uuid in uuids:
        assert any(line.get("event") == "ivr_end" and line["call_uuid"] == uuid for line in lines)
    service_lines = [line for line in lines if line.get("event") in ("serve_ready", "serve_stopped")]
    assert len(service_lines) == 2 and all("call_uuid" not in line for line in service_lines)
