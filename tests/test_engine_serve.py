"""``esl-apps serve`` as a process: ready log line, health check, SIGTERM graceful stop."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest


def _read_json_line(proc: subprocess.Popen, event: str, timeout: float = 15.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            if proc.poll() is not None:
                break
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            continue
        if data.get("event") == event:
            return data
    raise AssertionError(f"no {event} log line (exit {proc.poll()})")


@pytest.fixture
def served(tmp_path, redis_url):
    env = dict(os.environ, ESL_APPS_ESL_PASSWORD="not-used-by-serve")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "esl_apps",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--health",
            "127.0.0.1:0",
            "--redis-url",
            redis_url,
            "--spool-dir",
            str(tmp_path / "spool"),
            "--grace",
            "5",
        ],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        ready = _read_json_line(proc, "serve_ready")
        yield proc, ready
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_serve_reports_health_and_stops_on_sigterm(served):
    proc, ready = served
    assert ready["flows"] == ["main", "support"]
    health_url = f"http://{ready['health']}/health"
    with urllib.request.urlopen(health_url, timeout=5) as response:
        body = json.loads(response.read())
    assert response.status == 200
    assert body == {"status": "ok", "active_calls": 0, "max_calls": 2000, "refused_calls": 0, "redis": "ok"}
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(health_url.replace("/health", "/nope"), timeout=5)
    assert err.value.code == 404

    host, port = ready["listen"].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5):
        pass  # the ESL listener accepts connections

    proc.send_signal(signal.SIGTERM)
    stopped = _read_json_line(proc, "serve_stopped")
    assert stopped["refused_calls"] == 0
    assert proc.wait(timeout=10) == 0
    with pytest.raises(OSError):
        socket.create_connection((host, int(port)), timeout=2)


def test_serve_with_an_unwritable_spool_exits_3(tmp_path, redis_url):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "esl_apps",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--health",
            "off",
            "--redis-url",
            redis_url,
            "--spool-dir",
            str(blocker / "spool"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 3
    assert "spool directory" in result.stderr


def test_serve_with_a_bad_configuration_exits_2(tmp_path):
    (tmp_path / "pbx.yaml").write_text("domain: [oops\n")
    result = subprocess.run(
        [sys.executable, "-m", "esl_apps", "serve", "--conf", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "pbx.yaml:" in result.stderr


def test_graceful_stop_lets_active_calls_finish_and_refuses_new_ones(tmp_path, redis_url):
    """A call in progress when SIGTERM arrives completes its flow (trace stored); a call arriving
    during the stop is refused at once, so the dialplan's fallback after `socket` takes it."""
    import asyncio

    from esl_apps.commands.serve import Service
    from esl_apps.sim.emulator import Emulator
    from esl_apps.sim.scripts import CallerScript
    from esl_apps.store.connect import connect
    from tests.support.flow_harness import make_config

    flows = {
        "t": {
            "start": "p",
            "nodes": {
                "p": {"type": "play", "prompt": "long.wav", "children": {"next": "bye"}},
                "bye": {"type": "hangup"},
            },
        }
    }
    config = make_config(tmp_path, flows=flows)

    async def scenario():
        service = Service(
            config,
            listen=("127.0.0.1", 0),
            health=("127.0.0.1", 0),
            grace_s=10,
            redis_url=redis_url,
            spool_dir=tmp_path / "spool",
        )
        await service.start()
        emu = Emulator(time_scale=0.01)
        await emu.start()
        emu.file_durations["long.wav"] = 100.0  # 1 s of real time
        emu.add_extension(
            "^7100$",
            [
                ("socket", f"127.0.0.1:{service.port} async full"),
                ("playback", "fallback.wav"),
                ("hangup", ""),
            ],
        )
        first = await emu.place_call("7100", script=CallerScript(), variables={"esl_apps_flow": "t"})
        await first.wait_answered(5)
        stopping = asyncio.ensure_future(service.stop())
        await asyncio.sleep(0.1)
        url = f"http://127.0.0.1:{service.checker.port}/health"
        health = await asyncio.to_thread(_status_of, url)
        second = await emu.place_call("7100", script=CallerScript(), variables={"esl_apps_flow": "t"})
        second_record = await second.wait_done(5)
        first_record = await first.wait_done(10)
        await stopping
        client = connect(redis_url)
        trace = await client.get(f"esl:trace:{first.uuid}")
        await client.aclose()
        await emu.stop()
        return health, first_record, second_record, trace, service.server.refused_calls

    health, first_record, second_record, trace, refused = asyncio.run(scenario())
    assert health == 503
    assert json.loads(trace)["path"] == ["p", "bye"]  # the active call finished its flow
    assert first_record.fallback_actions == []
    assert ("playback", "fallback.wav") in second_record.fallback_actions  # refused -> dialplan fallback
    assert refused == 1


def _status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code
