"""The 6-step call flow every benchmarked application runs, with the same arguments for all three.

answer, play, collect (play_and_get_digits into `ivr_choice`), play, bridge to one agent (after
`set continue_on_fail=true`, which a real application needs so a failed bridge does not drop the
caller), hangup. The load generator answers these with the recorded FreeSWITCH event sequences.
"""

from __future__ import annotations

import argparse
import gc
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


def _gc_pacer() -> object:
    """BENCH_GC_PACER=N (bench_runtime.py --gc-pacer N): a young-generation collection every N calls.

    CPython 3.11 counts allocations minus deallocations to trigger its generation-0 collection, so with
    steady churn (calls ending as fast as new ones start) it seldom runs and the young generations grow
    to hold most of the 2,000 calls' objects: the collection that finally runs takes 20-40 ms. Collecting
    generation 0 every few calls keeps each pause well under a millisecond. Measured, not assumed: see
    docs/benchmarks.md. Applied the same way to every application when asked for.
    """
    every = int(os.environ.get("BENCH_GC_PACER") or 0)
    count = 0

    def on_call() -> None:
        nonlocal count
        count += 1
        if count % every == 0:
            gc.collect(0)

    return on_call if every > 0 else (lambda: None)


on_call = _gc_pacer()
