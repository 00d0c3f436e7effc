"""10,000 mutated real frames into each direction of the sans-IO protocol core: typed errors only.

Random bytes mostly die on the first header line; mutations of what FreeSWITCH and applications
really send reach the deep paths (Content-Length arithmetic, nested event bodies, lazy URL
decoding of headers, pipelined messages split anywhere). Every frame of every recorded trace is a
seed; each case takes 1-5 consecutive messages of one connection, applies 1-4 structural or byte
mutations, feeds the result in random chunks and then uses every message as the runtime would
(all headers decoded, body, reply text). The only exception allowed out is a ProtocolError, and a
watchdog turns a hang into a failure. Seeded, so a failure names a reproducible case.
"""

from __future__ import annotations

import random
import re
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from esl_apps.esl import protocol as P
from esl_apps.esl.tracefile import read_trace

TRACES = Path(__file__).parent / "fixtures" / "esl-traces"
CASES = 10_000
MAX_FRAME = 64 * 1024  # a small limit, so "too large" paths are reached without megabytes

_LENGTH = re.compile(rb"(Content-Length: ?)(\d+)", re.IGNORECASE)
_TOKENS = [
    b"\n", b"\r\n", b"\n\n", b"\r\n\r\n", b":", b": ", b"%", b"%2", b"%ZZ", b"%E2%82", b"%00", b"\x00",
    b"\xff\xfe", b"\xe2\x82", b"Content-Length: ", b"Content-Length: 99999999\n", b"Content-Length: -1\n",
    b"Content-Length: 0x10\n", b"Content-Length: \n", b"Content-Type: text/event-plain\n",
    b"Content-Type: text/event-json\n", b"Content-Type: api/response\n", b"Content-Type: command/reply\n",
    b"Content-Type: text/disconnect-notice\n", b"Content-Type: log/data\n", b"Content-Type: auth/request\n",
    b"Reply-Text: +OK\n", b"Reply-Text: -ERR\n", b"Event-Name: \n", b"{", b"}", b"[", b'"', b"\\", b" " * 50,
    b"A" * 300, b"ARRAY::a|:b", b"Job-UUID: \n", b"Content-Disposition: linger\n",
]


def _frames(kind: str) -> list[list[bytes]]:
    """Per connection, the frames in order (``received``: FreeSWITCH -> app; ``sent``: app -> it)."""
    streams: list[list[bytes]] = []
    for path in sorted(TRACES.glob("*.txt")):
        for section in read_trace(path):
            for conn in section.connections:
                frames = [entry.data for entry in section.messages(kind, conn)]  # type: ignore[arg-type]
                if frames:
                    streams.append(frames)
    return streams


def _mutate(data: bytes, rng: random.Random) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(11)
        at = rng.randint(0, len(buf))
        if op == 0 and buf:  # flip bits
            i = rng.randrange(len(buf))
            buf[i] ^= 1 << rng.randrange(8)
        elif op == 1:  # insert a protocol-significant token
            buf[at:at] = rng.choice(_TOKENS)
        elif op == 2 and buf:  # delete a span
            buf[at : at + rng.randint(1, 40)] = b""
        elif op == 3:  # truncate
            del buf[at:]
        elif op == 4 and buf:  # duplicate a span
            end = min(len(buf), at + rng.randint(1, 200))
            buf[at:at] = buf[at:end]
        elif op == 5:  # lie about a length (or several)
            lengths = list(_LENGTH.finditer(buf))
            if lengths:
                m = rng.choice(lengths)
                told = int(m.group(2))
                value = rng.choice([0, 1, told - 1, told + 1, 10**9, 2**64, MAX_FRAME + 1])
                buf[m.start(2) : m.end(2)] = str(value).encode()
        elif op == 6:  # break a line ending
            nl = buf.find(b"\n", at)
            if nl >= 0:
                buf[nl : nl + 1] = rng.choice([b"", b"\r", b"\r\n", b"\n\n", b"\n \n"])
        elif op == 7 and buf:  # overwrite with random bytes
            buf[at : at + 8] = rng.randbytes(rng.randint(1, 8))
        elif op == 8:  # drop a whole header line
            start = buf.rfind(b"\n", 0, at) + 1
            end = buf.find(b"\n", at)
            if end >= 0:
                del buf[start : end + 1]
        elif op == 9:  # percent-encoding trouble inside a value
            colon = buf.find(b": ", at)
            if colon >= 0:
                bad = rng.choice([b"%", b"%G1", b"%C3", b"%F0%9F", b"%2525", b"%0A%0A"])
                buf[colon + 2 : colon + 2] = bad
        else:  # swap two halves (messages cut in the wrong place)
            buf[:] = buf[at:] + buf[:at]
    return bytes(buf)


def _cases(streams: list[list[bytes]], seed: int) -> Iterator[tuple[int, bytes, list[int]]]:
    rng = random.Random(seed)
    for case in range(CASES):
        frames = rng.choice(streams)
        start = rng.randrange(len(frames))
        data = b"".join(frames[start : start + rng.randint(1, 5)])
        data = _mutate(data, rng)
        sizes = [7, 64, 512, 4096, len(data) or 1]
        if len(data) < 2048:
            sizes += [1, 2]  # byte by byte only when short: the cost is per feed() call
        splits = [rng.choice(sizes) for _ in range(rng.randint(1, 6))]
        yield case, data, splits


def _chunks(data: bytes, splits: list[int]) -> Iterator[bytes]:
    pos = i = 0
    while pos < len(data):
        size = splits[i % len(splits)]
        yield data[pos : pos + size]
        pos += size
        i += 1


def _use_message(message: object) -> None:
    """What the runtime reads from a message (the lazy header decoding happens here)."""
    assert isinstance(message, P.Message)
    if isinstance(message, P.Event):
        dict(message.headers)
        _ = (message.name, message.uuid, message.body, message.header_items())
    elif isinstance(message, P.CommandReply):
        _ = (message.reply_text, message.ok, message.job_uuid)
    elif isinstance(message, P.ApiResponse):
        _ = (message.body, message.ok)
    repr(message)


def _use_command(command: object) -> None:
    assert isinstance(command, P.Command)
    _ = (command.line, command.get("Content-Length"), command.get("event-uuid"), dict(command.headers))


@contextmanager
def watchdog(seconds: int) -> Iterator[None]:
    """A hang (an endless loop on some input) fails the test instead of stalling CI."""

    def expired(signum: int, frame: object) -> None:
        raise TimeoutError(f"the parser did not return within {seconds}s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _fuzz(
    streams: list[list[bytes]], seed: int, parse: Callable[[list[bytes]], None]
) -> tuple[int, int]:
    failed = parsed = 0
    with watchdog(120):
        for case, data, splits in _cases(streams, seed):
            try:
                parse(list(_chunks(data, splits)))
                parsed += 1
            except P.ProtocolError:
                failed += 1
            except Exception as exc:  # the finding: report the reproducible case
                raise AssertionError(
                    f"case {case} (seed {seed}): {type(exc).__name__}: {exc}; input {data[:300]!r}..."
                ) from exc
    return parsed, failed


@pytest.mark.parametrize("seed", [20261123])
def test_mutated_freeswitch_frames_into_the_client_parser(seed):
    def parse(chunks: list[bytes]) -> None:
        parser = P.EslParser(max_frame_bytes=MAX_FRAME)
        for chunk in chunks:
            for message in parser.feed(chunk):
                _use_message(message)
        parser.close()

    parsed, failed = _fuzz(_frames("received"), seed, parse)
    assert parsed + failed == CASES
    assert parsed > CASES // 4 and failed > CASES // 20  # both paths exercised, not just one


@pytest.mark.parametrize("seed", [20261124])
def test_mutated_application_commands_into_the_server_parser(seed):
    def parse(chunks: list[bytes]) -> None:
        parser = P.CommandParser()
        for chunk in chunks:
            for command in parser.feed(chunk):
                _use_command(command)

    parsed, failed = _fuzz(_frames("sent"), seed, parse)
    assert parsed + failed == CASES
    assert parsed > CASES // 2


def test_a_failed_parser_stays_failed_and_says_so():
    parser = P.EslParser(max_frame_bytes=MAX_FRAME)
    with pytest.raises(P.RemoteProtocolError):
        parser.feed(b"Content-Type: api/response\nContent-Length: x\n\n")
    with pytest.raises(P.RemoteProtocolError):
        parser.feed(b"Content-Type: command/reply\nReply-Text: +OK\n\n")
