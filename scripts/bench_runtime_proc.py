"""What the load generator reads about a process from /proc (no psutil), and latency percentiles."""

from __future__ import annotations

import os
import socket
from array import array
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_cpu_s(pid: int | str) -> float:
    """User + system CPU seconds of the process (all threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def proc_runq_wait_s(pid: int | str) -> float:
    """Time the process's threads were runnable but waiting for a CPU (/proc/<pid>/task/*/schedstat):
    on a shared machine, how much other processes got in the way of the measurement."""
    total = 0
    for stat in Path(f"/proc/{pid}/task").glob("*/schedstat"):
        try:
            total += int(stat.read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return total / 1e9


def proc_rss_kb(pid: int | str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def percentiles(values: array) -> dict[str, float]:
    """Latencies in seconds -> n, p50 ... max and mean in milliseconds."""
    if not values:
        return {"n": 0}
    data = sorted(values)
    n = len(data)

    def at(q: float) -> float:
        return round(data[min(n - 1, int(q * n))] * 1000, 3)

    return {"n": n, "p50": at(0.50), "p90": at(0.90), "p99": at(0.99), "p999": at(0.999),
            "max": round(data[-1] * 1000, 3), "mean": round(sum(data) / n * 1000, 3)}


def redis_info(port: int, host: str = "127.0.0.1") -> dict[str, str]:
    """`INFO all` of the benchmark's own redis-server, over a raw socket (one command, one read on the
    server), as {field: value}; cmdstat_<name> values keep their `calls=..,usec=..` text."""
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(b"INFO all\r\n")
        data = b""
        while b"\r\n" not in data:
            data += sock.recv(65536)
        head, _, rest = data.partition(b"\r\n")
        size = int(head[1:])
        while len(rest) < size + 2:
            rest += sock.recv(65536)
    out = {}
    for line in rest[:size].decode().splitlines():
        if ":" in line and not line.startswith("#"):
            key, value = line.split(":", 1)
            out[key] = value
    return out


def redis_delta(before: dict[str, str], after: dict[str, str]) -> dict[str, object]:
    """Commands (by name, without our own INFO) and network reads / writes between two snapshots. A read
    is one round trip from a client (a pipeline arrives in one); our second INFO is taken off."""

    def calls(info: dict[str, str]) -> dict[str, int]:
        found = {}
        for key, value in info.items():
            if key.startswith("cmdstat_") and key != "cmdstat_info":
                found[key[8:]] = int(value.split(",", 1)[0].split("=", 1)[1])
        return found

    c0, c1 = calls(before), calls(after)
    commands = {name: n - c0.get(name, 0) for name, n in c1.items() if n - c0.get(name, 0)}
    return {
        "commands": dict(sorted(commands.items(), key=lambda kv: -kv[1])),
        "reads": int(after["total_reads_processed"]) - int(before["total_reads_processed"]) - 1,
        "writes": int(after["total_writes_processed"]) - int(before["total_writes_processed"]) - 1,
    }
