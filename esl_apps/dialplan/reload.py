"""``reloadxml`` over an inbound ESL connection, judged by FreeSWITCH's reply text.

FreeSWITCH answers ``api reloadxml`` with ``+OK [Success]`` when the XML registry was rebuilt,
but with ``+OK [[error near line N]: ...]`` when a file does not parse: it says ``+OK`` even for
a parse error (and keeps running on the previous XML). Only ``+OK [Success]`` counts as success.

One command, then goodbye: a blocking socket and the sans-IO parser from ``esl_apps.esl.protocol``
are all this needs, and the command stays usable without an event loop. The password is read from
the configured source at call time and never printed or logged.
"""

from __future__ import annotations

import contextlib
import re
import socket
import time
from dataclasses import dataclass

from esl_apps.esl import protocol as p

__all__ = ["EslUnavailable", "ReloadFailed", "ReloadResult", "reloadxml"]

_SUCCESS = re.compile(r"\+OK \[Success\]\s*\Z")


class EslUnavailable(ConnectionError):
    """FreeSWITCH could not be asked: refused, timed out, wrong password, ACL, connection lost."""


class ReloadFailed(RuntimeError):
    """FreeSWITCH answered, and the answer is not ``+OK [Success]`` (e.g. an XML parse error)."""

    def __init__(self, reply: str) -> None:
        super().__init__(f"FreeSWITCH reloadxml failed: {reply.strip()}")
        self.reply = reply


@dataclass(frozen=True, slots=True)
class ReloadResult:
    reply: str


class _Conversation:
    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock = sock
        self.deadline = deadline
        self.parser = p.EslParser()
        self.pending: list[p.Message] = []

    def next(self) -> p.Message:
        while not self.pending:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                raise EslUnavailable("timed out waiting for FreeSWITCH")
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                raise EslUnavailable("timed out waiting for FreeSWITCH") from None
            except OSError as exc:
                raise EslUnavailable(f"connection lost: {exc.strerror or exc}") from None
            if not data:
                raise EslUnavailable("FreeSWITCH closed the connection")
            try:
                self.pending.extend(self.parser.feed(data))
            except p.RemoteProtocolError as exc:
                raise EslUnavailable(f"not an Event Socket reply: {exc}") from None
        return self.pending.pop(0)

    def expect(self, kind: type) -> p.Message:
        """The next message of ``kind``; events and log lines in between are skipped."""
        while True:
            message = self.next()
            if isinstance(message, kind):
                return message
            if isinstance(message, p.RudeRejection):
                raise EslUnavailable("FreeSWITCH refused the connection (event socket ACL)")
            if isinstance(message, p.DisconnectNotice):
                raise EslUnavailable("FreeSWITCH disconnected")

    def send(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except OSError as exc:
            raise EslUnavailable(f"connection lost: {exc.strerror or exc}") from None


def reloadxml(host: str, port: int, password: str, timeout: float = 5.0) -> ReloadResult:
    """Run ``reloadxml``; raises :class:`ReloadFailed` or :class:`EslUnavailable`."""
    deadline = time.monotonic() + timeout
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        reason = exc.strerror or exc
        raise EslUnavailable(f"cannot connect to FreeSWITCH ESL at {host}:{port}: {reason}") from None
    with sock:
        talk = _Conversation(sock, deadline)
        talk.expect(p.AuthRequest)
        talk.send(p.auth(password))
        reply = talk.expect(p.CommandReply)
        assert isinstance(reply, p.CommandReply)
        if not reply.ok:
            raise EslUnavailable(f"FreeSWITCH rejected the ESL password ({reply.reply_text.strip()})")
        talk.send(p.api("reloadxml"))
        response = talk.expect(p.ApiResponse)
        assert isinstance(response, p.ApiResponse)
        with contextlib.suppress(EslUnavailable):  # the answer is in; a race on goodbye changes nothing
            talk.send(p.exit_())
    if not _SUCCESS.match(response.body):
        raise ReloadFailed(response.body)
    return ReloadResult(response.body)
