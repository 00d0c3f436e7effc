"""``esl-apps build --reload`` against a small fake FreeSWITCH speaking the real ESL wire format.

The fake answers with the serialisers the emulator uses (auth/request, command/reply,
api/response, disconnect notice), byte for byte as in trace 07. FreeSWITCH's reloadxml says
``+OK`` even when a file fails to parse, so only ``+OK [Success]`` may count as success.
"""

from __future__ import annotations

import io
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from esl_apps.cli import build_parser
from esl_apps.commands import build as build_command
from esl_apps.dialplan.reload import EslUnavailable, ReloadFailed, reloadxml
from esl_apps.esl.protocol import (
    CommandParser,
    api_response_bytes,
    auth_request_bytes,
    command_reply_bytes,
    disconnect_notice_bytes,
)
from tests.support.dialplan import write_conf

PASSWORD = "Wr0ng-Horse-Battery"
PARSE_ERROR = "+OK [[error near line 3]: unclosed tag <extension>]\n"


@dataclass
class FakeFreeSwitch:
    """One-connection-at-a-time ESL server; records the command lines it received."""

    reply: str = "+OK [Success]\n"
    password: str = PASSWORD
    received: list[str] = field(default_factory=list)
    session_done: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                self._session(conn)
            self.session_done.set()

    def _session(self, conn: socket.socket) -> None:
        parser = CommandParser()
        conn.sendall(auth_request_bytes())
        while True:
            data = conn.recv(4096)
            if not data:
                return
            for command in parser.feed(data):
                self.received.append(command.line)
                if command.name == "auth":
                    if command.args != self.password:
                        conn.sendall(command_reply_bytes("-ERR invalid") + disconnect_notice_bytes(None))
                        return
                    conn.sendall(command_reply_bytes("+OK accepted"))
                elif command.name == "api":
                    conn.sendall(api_response_bytes(self.reply))
                elif command.name == "exit":
                    conn.sendall(command_reply_bytes("+OK bye") + disconnect_notice_bytes(None))
                    return

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def fake() -> Iterator[FakeFreeSwitch]:
    server = FakeFreeSwitch()
    yield server
    server.close()


def test_success_reply(fake: FakeFreeSwitch) -> None:
    assert reloadxml("127.0.0.1", fake.port, PASSWORD).reply == "+OK [Success]\n"
    assert fake.session_done.wait(5)  # the client may close before the server has read "exit"
    assert fake.received == [f"auth {PASSWORD}", "api reloadxml", "exit"]


def test_parse_error_reply_is_a_failure_despite_ok(fake: FakeFreeSwitch) -> None:
    fake.reply = PARSE_ERROR
    with pytest.raises(ReloadFailed) as caught:
        reloadxml("127.0.0.1", fake.port, PASSWORD)
    assert caught.value.reply == PARSE_ERROR


def test_wrong_password_and_nothing_listening_are_unreachable(fake: FakeFreeSwitch) -> None:
    with pytest.raises(EslUnavailable, match="rejected the ESL password"):
        reloadxml("127.0.0.1", fake.port, "guess")
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()
    with pytest.raises(EslUnavailable, match="cannot connect"):
        reloadxml("127.0.0.1", port, PASSWORD, timeout=2)


def test_silent_server_times_out() -> None:
    server = socket.create_server(("127.0.0.1", 0))
    try:
        with pytest.raises(EslUnavailable, match="timed out"):
            reloadxml("127.0.0.1", server.getsockname()[1], PASSWORD, timeout=0.3)
    finally:
        server.close()


def _cli(tmp_path: Path, port: int, monkeypatch: pytest.MonkeyPatch, password: str | None) -> tuple[int, str]:
    def esl_port(pbx: dict) -> None:
        pbx["esl"]["port"] = port
        pbx["esl"]["connect_timeout"] = 2

    conf, flows = write_conf(tmp_path, esl_port)
    if password is None:
        monkeypatch.delenv("ESL_APPS_ESL_PASSWORD", raising=False)
    else:
        monkeypatch.setenv("ESL_APPS_ESL_PASSWORD", password)
    args = build_parser().parse_args(
        ["build", "--conf", str(conf), "--flows", str(flows), "--out", str(tmp_path / "out"), "--reload"]
    )
    out, err = io.StringIO(), io.StringIO()
    code = build_command.run(args, out, err)
    text = out.getvalue() + err.getvalue()
    assert PASSWORD not in text  # the password is never printed
    return code, text


def test_cli_reload_exit_codes(tmp_path: Path, fake: FakeFreeSwitch, monkeypatch: pytest.MonkeyPatch) -> None:
    code, text = _cli(tmp_path / "ok", fake.port, monkeypatch, PASSWORD)
    assert code == 0 and "reloadxml: +OK [Success]" in text
    assert (tmp_path / "ok" / "out" / "public" / "00_esl_apps_dids.xml").exists()

    fake.reply = PARSE_ERROR
    code, text = _cli(tmp_path / "parse", fake.port, monkeypatch, PASSWORD)
    assert code == 1 and "error near line 3" in text

    code, text = _cli(tmp_path / "auth", fake.port, monkeypatch, "not-it")
    assert code == 3 and "rejected the ESL password" in text

    code, text = _cli(tmp_path / "nopw", fake.port, monkeypatch, None)
    assert code == 2 and "ESL_APPS_ESL_PASSWORD is not set" in text


def test_cli_reload_unreachable_is_3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()
    code, text = _cli(tmp_path, port, monkeypatch, PASSWORD)
    assert code == 3 and "cannot connect to FreeSWITCH ESL" in text
