"""Start, watch and stop SIPp processes, and find the files they write.

Traps this module exists to handle (SIPp 3.6.1):
- ``-key name value`` options are only honoured before ``-sf``; build_argv puts them first.
- Output files land in the working directory as ``<scenario file stem>_<pid>_.csv`` (statistics),
  ``..._rtt.csv``, ``..._error_codes.csv``, ``..._errors.log``, ``..._messages.log``,
  ``..._screen.log``; each process runs in its own ``workdir`` so nothing collides.
- RTP playback needs raw sockets, so root (SIPp exits 255 with "Can't create raw IPv4 socket").
- SIGUSR1 asks for a soft exit (no new calls, running calls finish); a second SIGUSR1 aborts the
  running calls but still writes the final statistics; SIGTERM exits without them.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from esl_apps.qa.sipp_stats import SippStats, last_stats

SIPP_BINARY = "sipp"
# What SIPp always prints to stderr while loading pcaps and resolving the target: not an error.
_STDERR_CHATTER = ("In pcap ", "max pkt length", "base port", "Resolving remote host")


class SippNotFound(RuntimeError):
    """The sipp binary is not installed (Debian package sip-tester)."""


class SippFailed(RuntimeError):
    """SIPp exited before it was ready (bad scenario, port in use, not root ...)."""


def find_sipp(binary: str | None = None) -> str:
    found = shutil.which(binary or os.environ.get("ESL_APPS_SIPP", SIPP_BINARY))
    if not found:
        raise SippNotFound("sipp is not installed: apt-get install sip-tester")
    return found


def can_send_rtp() -> bool:
    """SIPp's pcap/DTMF playback opens raw sockets, which needs root."""
    return hasattr(os, "geteuid") and os.geteuid() == 0


@dataclass(frozen=True)
class SippOptions:
    """The options esl-apps uses; anything else goes in ``extra`` (appended after -sf)."""

    scenario: Path
    local_ip: str = "127.0.0.1"
    local_port: int | None = None
    media_ip: str | None = None
    media_port: int | None = None
    remote: str | None = None
    service: str | None = None
    inf: Sequence[Path] = ()
    keys: Mapping[str, str] = field(default_factory=dict)
    calls: int | None = None
    rate: float | None = None
    rate_period_ms: int | None = None
    limit: int | None = None
    stat_period_s: int = 1
    global_timeout_s: int | None = None
    trace_msg: bool = False
    extra: Sequence[str] = ()


def build_argv(options: SippOptions, binary: str = SIPP_BINARY) -> list[str]:
    argv = [binary]
    for name, value in options.keys.items():
        argv += ["-key", name, str(value)]  # must precede -sf
    argv += ["-sf", str(options.scenario)]
    for path in options.inf:
        argv += ["-inf", str(path)]
    argv += ["-i", options.local_ip, "-mi", options.media_ip or options.local_ip]
    if options.local_port is not None:
        argv += ["-p", str(options.local_port)]
    if options.media_port is not None:
        argv += ["-mp", str(options.media_port)]
    if options.service is not None:
        argv += ["-s", options.service]
    if options.calls is not None:
        argv += ["-m", str(options.calls)]
    if options.rate is not None:
        argv += ["-r", f"{options.rate:g}"]
    if options.rate_period_ms is not None:
        argv += ["-rp", str(options.rate_period_ms)]
    if options.limit is not None:
        argv += ["-l", str(options.limit)]
    if options.global_timeout_s is not None:
        argv += ["-timeout", f"{options.global_timeout_s}s", "-timeout_error"]
    argv += ["-nostdin", "-trace_stat", "-fd", str(options.stat_period_s), "-trace_rtt", "-rtt_freq", "1",
             "-trace_err", "-trace_error_codes", "-trace_screen"]
    if options.trace_msg:
        argv.append("-trace_msg")
    argv += list(options.extra)
    if options.remote:
        argv.append(options.remote)
    return argv


def udp_port_bound(port: int, ip: str | None = None) -> bool:
    """Whether some process has bound UDP ``port`` (read from /proc/net/udp, Linux)."""
    wanted = f"{port:04X}"
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local = line.split()[1]
            address, _, hex_port = local.rpartition(":")
            if hex_port != wanted:
                continue
            if ip is None or table.endswith("6") or address in ("00000000", _hex_ip(ip)):
                return True
    return False


def free_media_port(ip: str = "127.0.0.1", low: int = 20000, high: int = 50000, tries: int = 200) -> int:
    """An even port ``p`` with ``p`` and ``p + 2`` free: SIPp binds both for -mp (audio and video).

    Random rather than fixed so two runs on one machine (two QA jobs, two test sessions) do not
    collide; SIPp given -mp gives up at once if the port is taken.
    """
    for _ in range(tries):
        port = random.randrange(low, high, 2)
        sockets = []
        try:
            for candidate in (port, port + 2):
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                sockets.append(sock)
                sock.bind((ip, candidate))
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
        return port
    raise SippFailed(f"no free RTP port pair between {low} and {high}")


def _hex_ip(ip: str) -> str:
    parts = [int(p) for p in ip.split(".")]
    return "".join(f"{p:02X}" for p in reversed(parts))


class SippProcess:
    """One SIPp process running in its own working directory."""

    def __init__(self, options: SippOptions, workdir: Path, name: str | None = None,
                 binary: str | None = None) -> None:
        self.options = options
        self.workdir = Path(workdir)
        self.name = name or options.scenario.stem
        self.binary = find_sipp(binary)
        self.process: subprocess.Popen[bytes] | None = None
        self.returncode: int | None = None

    @property
    def argv(self) -> list[str]:
        return build_argv(self.options, self.binary)

    def start(self) -> SippProcess:
        self.workdir.mkdir(parents=True, exist_ok=True)
        with open(self.output_path, "wb") as out:
            self.process = subprocess.Popen(self.argv, cwd=self.workdir, stdin=subprocess.DEVNULL,
                                            stdout=subprocess.DEVNULL, stderr=out, start_new_session=True)
        return self

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError("SIPp not started")
        return self.process.pid

    @property
    def output_path(self) -> Path:
        return self.workdir / f"{self.name}.stderr"

    def file(self, suffix: str) -> Path:
        """A SIPp output file by suffix: ``.csv`` (statistics), ``rtt.csv``, ``errors.log`` ..."""
        return self.workdir / f"{self.options.scenario.stem}_{self.pid}_{suffix}"

    @property
    def stat_csv(self) -> Path:
        return self.file(".csv")

    @property
    def rtt_csv(self) -> Path:
        return self.file("rtt.csv")

    @property
    def error_codes_csv(self) -> Path:
        return self.file("error_codes.csv")

    @property
    def errors_log(self) -> Path:
        return self.file("errors.log")

    @property
    def screen_log(self) -> Path:
        return self.file("screen.log")

    def poll(self) -> int | None:
        if self.process is None:
            return None
        if self.returncode is None:
            self.returncode = self.process.poll()
        return self.returncode

    @property
    def running(self) -> bool:
        return self.process is not None and self.poll() is None

    def stats(self) -> SippStats | None:
        return last_stats(self.stat_csv) if self.process is not None else None

    def diagnostics(self, limit: int = 1500) -> str:
        """SIPp's own complaints (stderr without its start-up chatter), for error messages."""
        try:
            lines = self.output_path.read_text(errors="replace").splitlines()
        except OSError:
            lines = []
        lines = [line for line in lines if line.strip() and not line.startswith(_STDERR_CHATTER)]
        text = "\n".join(lines).strip()
        if not text:
            try:
                text = self.errors_log.read_text(errors="replace").strip()
            except OSError:
                text = ""
        return text[-limit:]

    def wait_ready(self, port: int, timeout_s: float = 10.0) -> None:
        """Wait until the SIP port is bound; raise SippFailed if SIPp exits first."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.poll() is not None:
                raise SippFailed(f"{self.name} exited with {self.returncode} before listening on {port}:\n"
                                 f"{self.diagnostics()}")
            if udp_port_bound(port, self.options.local_ip) and self.stat_csv.exists():
                return
            time.sleep(0.05)
        raise SippFailed(f"{self.name} did not listen on UDP port {port} within {timeout_s:g} s")

    def wait(self, timeout_s: float | None = None) -> int | None:
        if self.process is None:
            return None
        try:
            self.returncode = self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return None
        return self.returncode

    def signal(self, signum: int) -> None:
        if self.running:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)

    def stop(self, grace_s: float = 5.0) -> int | None:
        """Soft exit (SIGUSR1), then abort running calls (second SIGUSR1), then SIGTERM/SIGKILL."""
        for signum, wait_s in ((signal.SIGUSR1, grace_s), (signal.SIGUSR1, 5.0),
                               (signal.SIGTERM, 3.0), (signal.SIGKILL, 3.0)):
            if not self.running:
                break
            self.signal(signum)
            self.wait(wait_s)
        return self.poll()
