"""Register the agent UASs as the agents' SIP users, so FreeSWITCH's ``user/1001@domain`` reaches them.

The example configuration rings agents as ``user/<extension>@<domain>``: FreeSWITCH looks up the
user's registered contact, so an agent UAS only rings if something registered it. This runs
scripts/sipp/agent_register.xml once per agent before the calls (Contact = that agent's port) and
once more with ``Expires: 0`` afterwards. The passwords come from an environment variable or a
file, go only into a mode-0600 CSV in the run directory, and that file is deleted at the end.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from esl_apps.qa.sipp_runner import SippFailed, SippOptions, SippProcess

REGISTER_XML = "agent_register.xml"
_RANGE = re.compile(r"^(\d+)-(\d+)$")


@dataclass(frozen=True)
class Registration:
    users: tuple[str, ...]
    server: str  # HOST:PORT of FreeSWITCH's internal profile
    domain: str
    password: str = field(repr=False)
    expires_s: int = 3600


def parse_users(text: str) -> tuple[str, ...]:
    """``1001-1008`` or ``1001,1002,alice``; raises ValueError with the reason."""
    users: list[str] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        match = _RANGE.match(part)
        if match:
            first, last = int(match.group(1)), int(match.group(2))
            if last < first or last - first > 1000:
                raise ValueError(f"user range {part!r} is empty or too long")
            width = len(match.group(1))
            users += [str(n).zfill(width) for n in range(first, last + 1)]
        elif re.fullmatch(r"[A-Za-z0-9_.+-]+", part):
            users.append(part)
        else:
            raise ValueError(f"{part!r} is not a SIP user name")
    if not users:
        raise ValueError("no users to register")
    return tuple(users)


def _write_csv(path: Path, registration: Registration, ports: Sequence[int], expires: int) -> Path:
    lines = ["SEQUENTIAL"] + [f"{user};{registration.password};{registration.domain};{port};{expires}"
                              for user, port in zip(registration.users, ports, strict=True)]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write("\n".join(lines) + "\n")
    return path


def run_registration(registration: Registration, ports: Sequence[int], workdir: Path, scenario: Path,
                     local_ip: str, *, expires: int | None = None, timeout_s: float = 30.0) -> int:
    """REGISTER every user (Contact: ``local_ip:port``); returns how many succeeded."""
    if len(ports) != len(registration.users):
        raise ValueError(f"{len(registration.users)} users to register for {len(ports)} agents")
    workdir.mkdir(parents=True, exist_ok=True)
    csv_path = workdir / "register.csv"
    _write_csv(csv_path, registration, ports, registration.expires_s if expires is None else expires)
    process = SippProcess(SippOptions(scenario=scenario, local_ip=local_ip, remote=registration.server,
                                      inf=(csv_path,), calls=len(ports), rate=50, limit=50), workdir,
                          name="register")
    try:
        process.start()
        if process.wait(timeout_s) is None:
            process.stop(grace_s=1)
            raise SippFailed(f"registration with {registration.server} did not finish in {timeout_s:g} s")
    finally:
        with contextlib.suppress(FileNotFoundError):
            csv_path.unlink()
    stats = process.stats()
    if process.returncode not in (0, 1) or stats is None:
        raise SippFailed(f"registration SIPp exited with {process.returncode}: {process.diagnostics(600)}")
    return stats.counters.get("registered", 0)
