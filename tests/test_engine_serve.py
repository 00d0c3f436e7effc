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
