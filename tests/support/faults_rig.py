"""The whole production path for fault-injection tests: ``esl-apps serve`` (as a process or an
in-process ``Service``), the dialplan that ``esl-apps build`` generates, loaded into the FreeSWITCH
emulator, and a real Redis.

The configuration is the shipped example with its paths moved under the test's directory, the
ring groups open around the clock (the tests must not depend on the hour they run at) and two
small flows that exercise every record kind an outage must not lose: a consent decision on every
call, then a menu whose long prompt keeps calls busy (``1`` rings sales: a disposition after the
agent's wrap-up; ``2`` waits in the support queue; ``4`` stores a callback request; ``9`` hangs up).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from esl_apps import resources
from esl_apps.cli import main as cli_main
from tests.support.redis_server import RedisServer, free_port

__all__ = [
    "CALLER",
    "DID",
    "LONG_PROMPT",
    "LONG_PROMPT_S",
    "SALES_AGENTS",
    "SALES_ENDPOINTS",
    "WRAPUP_CODE",
    "PersistentRedis",
    "ServeProcess",
    "build_dialplan",
    "free_port",
    "running_app",
    "wait_until",
    "write_config",
]

DID = "+442071234567"
CALLER = "+447700900123"
LONG_PROMPT = "ivr/fault-long-menu.wav"  # the emulator is told it lasts LONG_PROMPT_S
LONG_PROMPT_S = 1000.0
SALES_AGENTS = ("alice", "bob", "carol", "dave", "erin", "frank")  # six, so a burst never finds all busy
SALES_ENDPOINTS = tuple(f"user/100{n}@pbx.example.com" for n in range(1, 7))
WRAPUP_CODE = "20"  # a code of the shipped codebook (sale closed)

MAIN_FLOW: dict[str, Any] = {
    "flow": "main",
    "description": "fault-injection flow: consent, then a menu with a long prompt",
    "start": "consent",
    "nodes": {
        "consent": {"type": "consent", "policy": "opt_out", "children": {"next": "menu"}},
        "menu": {
            "type": "menu",
            "prompt": LONG_PROMPT,
            "options": {"1": "sales", "2": "support", "4": "callback", "9": "bye"},
            "timeout_s": 5,
            "max_tries": 1,
            "children": {"max_tries": "bye"},
        },
        "sales": {"type": "ring_group", "group": "sales", "children": {"next": "bye"}},
        "support": {"type": "queue", "queue": "support", "children": {"next": "bye"}},
        "callback": {
            "type": "callback",
            "group": "sales",
            "children": {"requested": "thanks", "declined": "bye"},
        },
        "thanks": {"type": "play", "prompt": "ivr/ivr-thank_you.wav", "children": {"next": "bye"}},
        "bye": {"type": "hangup"},
    },
}
SUPPORT_FLOW: dict[str, Any] = {
    "flow": "support",
    "start": "bye",
    "nodes": {"bye": {"type": "hangup"}},
}


def write_config(root: Path, *, app_port: int, redis_url: str) -> tuple[Path, Path]:
    """-> (conf dir, flows dir) under ``root``; esl-apps listens on ``app_port``."""
    conf, flows = root / "conf", root / "flows"
    conf.mkdir(parents=True)
    flows.mkdir()
    shutil.copy(resources.example_conf_dir() / "dispositions.yaml", conf / "dispositions.yaml")
    pbx = yaml.safe_load((resources.example_conf_dir() / "pbx.yaml").read_text(encoding="utf-8"))
    pbx["esl"]["app_listen"] = f"127.0.0.1:{app_port}"
    pbx["dialplan"]["app_port"] = app_port
    pbx["redis"]["url"] = redis_url
    pbx["redis"]["spool_dir"] = str(root / "spool")
    pbx["recording"]["directory"] = str(root / "recordings")
    pbx["recording"]["audit_file"] = str(root / "audit" / "consent-audit.jsonl")
    for group in pbx["ring_groups"].values():
        group.pop("schedule", None)  # open at any hour the test runs
        group["wrapup_seconds"] = 0
        group["overflow"] = [
            {**rule, "when": [w for w in rule["when"] if w != "closed"]}
            for rule in group.get("overflow", [])
            if rule["when"] != ["closed"]
        ]
    pbx["ring_groups"]["sales"]["members"] += ["dave", "erin", "frank"]
    # sales overflows straight to its voicemail (not to billing, whose agents must press 1)
    pbx["ring_groups"]["sales"]["overflow"] = [
        {"when": ["no_answer", "all_busy"], "to": {"voicemail": "sales"}}
    ]
    (conf / "pbx.yaml").write_text(yaml.safe_dump(pbx, sort_keys=False), encoding="utf-8")
    (flows / "main.yaml").write_text(yaml.safe_dump(MAIN_FLOW, sort_keys=False), encoding="utf-8")
    (flows / "support.yaml").write_text(yaml.safe_dump(SUPPORT_FLOW, sort_keys=False), encoding="utf-8")
    return conf, flows


def build_dialplan(conf: Path, flows: Path, out: Path) -> list[Path]:
    """``esl-apps build --out`` (in-process); -> the context directories to load."""
    code = cli_main(["build", "--conf", str(conf), "--flows", str(flows), "--out", str(out), "-q"])
    assert code == 0, f"esl-apps build exited {code}"
    return sorted(p for p in out.iterdir() if p.is_dir())


class ServeProcess:
    """``esl-apps serve`` as a child process; its JSON log lines are drained by a thread (a
    busy serve fills a pipe in a second) and kept for the test to look at."""

    def __init__(
        self, conf: Path, flows: Path, *, port: int, redis_url: str, spool: Path, extra: Sequence[str] = ()
    ) -> None:
        self.argv = [
            sys.executable, "-m", "esl_apps", "serve", "--conf", str(conf), "--flows", str(flows),
            "--listen", f"127.0.0.1:{port}", "--health", "127.0.0.1:0", "--redis-url", redis_url,
            "--spool-dir", str(spool), "--grace", "5", *extra,
        ]
        self.env = dict(os.environ, ESL_APPS_ESL_PASSWORD="fault-test-not-cluecon")
        self.proc: subprocess.Popen[str] | None = None
        self.lines: list[dict[str, Any]] = []
        self.raw: list[str] = []
        self._ready = threading.Event()
        self._reader: threading.Thread | None = None

    def start(self, timeout: float = 20.0) -> dict[str, Any]:
        self._ready.clear()
        self.proc = subprocess.Popen(self.argv, stderr=subprocess.PIPE, text=True, env=self.env)
        self._reader = threading.Thread(target=self._drain, args=(self.proc,), daemon=True)
        self._reader.start()
        if not self._ready.wait(timeout):
            self.kill()
            raise AssertionError(f"serve did not report serve_ready: {self.raw[-20:]}")
        return next(line for line in reversed(self.lines) if line.get("event") == "serve_ready")

    def _drain(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            self.raw.append(line)
            try:
                data = json.loads(line)
            except json.JSONDecodeError:
                continue
            self.lines.append(data)
            if data.get("event") == "serve_ready":
                self._ready.set()

    def kill(self) -> None:
        """SIGKILL: no graceful stop, no socket closed by the application itself."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        if self._reader is not None:
            self._reader.join(5)

    def terminate(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()
        if self._reader is not None:
            self._reader.join(5)
        return self.proc.returncode

    def events(self, name: str) -> list[dict[str, Any]]:
        return [line for line in self.lines if line.get("event") == name]


class PersistentRedis(RedisServer):
    """A redis-server that keeps its data across a stop and start, as a production one does (AOF).

    The session fixture's server runs without persistence (fast, flushed per test); an outage test
    that counts records after the restart needs the ones written before the stop to survive it.
    """

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.workdir),
                "--protected-mode", "yes",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if not wait_until(self._pong, 10):
            raise RuntimeError(f"redis-server did not start on port {self.port}")

    def _pong(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False


def wait_until(predicate: Any, timeout: float, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


def running_app(record: Any, app: str) -> Any:
    """The application ``app`` currently running on the caller's leg (None if not running)."""
    for run in reversed(record.apps):
        if run.leg == record.uuid and run.app == app and run.end is None:
            return run
    return None
