#!/usr/bin/env python3
"""The benchmark flow on greenswitch 0.0.19 (gevent), written the way its README shows.

OutboundESLServer sends `connect`; the application sends myevents and linger, then runs the steps with
the session's own helpers (answer() returns on +OK; playback, play_and_get_digits and bridge block until
the CHANNEL_EXECUTE_COMPLETE whose variable_current_application matches); hangup() executes the
`hangup` application, and the server sends `exit` when run() returns.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import logging  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import gevent  # noqa: E402
from greenswitch.esl import OutboundESLServer  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import flow  # noqa: E402


class BenchApp:
    def __init__(self, session) -> None:  # type: ignore[no-untyped-def]
        self.session = session

    def run(self) -> None:
        flow.on_call()
        s = self.session
        s.myevents()
        s.linger()
        s.answer()
        s.playback(flow.WELCOME, block=True)
        lo, hi, tries, timeout_ms, terminators = flow.COLLECT
        s.play_and_get_digits(
            min_digits=lo, max_digits=hi, max_attempts=tries, timeout=timeout_ms,
            terminators=terminators, prompt_file=flow.MENU, error_file=flow.INVALID,
            variable=flow.DIGITS_VAR, digits_regex=flow.DIGITS_REGEX, digit_timeout=timeout_ms,
            transfer_on_fail="", block=True,
        )
        s.playback(flow.THANKS, block=True)
        s.call_command("set", "continue_on_fail=true", block=True)
        s.bridge(flow.DIAL_STRING, block=True)
        s.hangup()


class ReadyServer(OutboundESLServer):
    """listen() binds and then loops; report the port from the first accept-loop turn."""

    def listen(self) -> None:
        def announce() -> None:
            while self.bound_port is None:
                gevent.sleep(0.01)
            flow.ready(self.bound_port)

        gevent.spawn(announce)
        super().listen()


def main() -> None:
    args = flow.parse_args(__doc__ or "")
    flow.raise_fd_limit()
    logging.basicConfig(level=logging.WARNING)
    port = args.port or _free_port(args.host)
    server = ReadyServer(bind_address=args.host, bind_port=port, application=BenchApp,
                         max_connections=args.max_calls)
    server.listen()


def _free_port(host: str) -> int:
    import socket

    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


if __name__ == "__main__":
    flow.exit_on_sigterm()
    main()
