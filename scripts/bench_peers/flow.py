"""The 6-step call flow every benchmarked application runs, with the same arguments for all three.

answer, play, collect (play_and_get_digits into `ivr_choice`), play, bridge to one agent (after
`set continue_on_fail=true`, which a real application needs so a failed bridge does not drop the
caller), hangup. The load generator answers these with the recorded FreeSWITCH event sequences.
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import sys

WELCOME = "ivr/ivr-welcome_to_freeswitch.wav"
MENU = "ivr/ivr-please_enter_extension_followed_by_pound.wav"
THANKS = "ivr/ivr-thank_you_for_calling.wav"
INVALID = "silence_stream://250"
AGENT = "sofia/external/agent1@127.0.0.1:5091"
AGENT_TIMEOUT_S = 15
DIAL_STRING = f"{{leg_timeout={AGENT_TIMEOUT_S}}}{AGENT}"
DIGITS_VAR = "ivr_choice"
DIGITS_REGEX = r"\d+"
# play_and_get_digits <min> <max> <tries> <timeout> <terminators> <file> <invalid_file> <var> <regex>
COLLECT = (1, 4, 3, 5000, "#")


def parse_args(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: any free port (printed as READY <port>)")
    parser.add_argument("--max-calls", type=int, default=2500)
    return parser.parse_args()


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def ready(port: int) -> None:
    """Tell the benchmark driver the server listens (it starts the load on this line)."""
    sys.stdout.write(f"READY {port} {os.getpid()}\n")
    sys.stdout.flush()


def exit_on_sigterm() -> None:
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
