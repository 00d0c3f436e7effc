"""The on-disk spool that holds records while Redis is unreachable.

Records here are call traces, consent decisions and dispositions: losing one is a compliance or
billing problem, so every line is fsynced before the caller moves on, and the files are private
(directory 0700, files 0600) because consent records name callers.

Several processes may share one spool directory. Writers append under an exclusive ``flock`` and
check, once they hold it, that the inode they opened is still the one named ``spool.jsonl``; a
replayer first renames ``spool.jsonl`` to a unique ``*.replaying`` name and then takes the same
lock, so a line is either in the file it reads or lands in a fresh ``spool.jsonl``, never in a
file that is about to be deleted.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

ACTIVE_NAME = "spool.jsonl"
REPLAYING_SUFFIX = ".replaying"


@dataclass(frozen=True, slots=True)
class SpooledRecord:
    """One record as it waits on disk; ``data`` is the record already encoded as JSON."""

    rid: str
    stream: str
    data: str
    ts_ms: int
    doc_key: str | None = None
    ttl_s: int | None = None
    maxlen: int | None = None

    def to_line(self) -> bytes:
        fields: dict[str, Any] = {"rid": self.rid, "stream": self.stream, "data": self.data, "ts": self.ts_ms}
        if self.doc_key is not None:
            fields["doc_key"] = self.doc_key
        if self.ttl_s is not None:
            fields["ttl_s"] = self.ttl_s
        if self.maxlen is not None:
            fields["maxlen"] = self.maxlen
        return (json.dumps(fields, separators=(",", ":")) + "\n").encode()

    @classmethod
    def from_line(cls, line: bytes) -> SpooledRecord:
        obj = json.loads(line)
        return cls(
            rid=str(obj["rid"]),
            stream=str(obj["stream"]),
            data=str(obj["data"]),
            ts_ms=int(obj["ts"]),
            doc_key=obj.get("doc_key"),
            ttl_s=obj.get("ttl_s"),
            maxlen=obj.get("maxlen"),
        )


class Spool:
    """Synchronous file operations; callers run them in a thread so fsync never stalls the event loop."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.active = self.directory / ACTIVE_NAME

    def ensure_dir(self) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        # mkdir's mode is filtered by the umask and ignored for an existing directory: enforce it.
        os.chmod(self.directory, 0o700)

    def tighten(self) -> None:
        """Make an existing spool directory private; never creates it (readers may not own it)."""
        if self.directory.is_dir():
            try:
                os.chmod(self.directory, 0o700)
            except PermissionError:
                log.warning("spool directory %s: cannot set mode 0700", self.directory)

    def write(self, record: SpooledRecord) -> None:
        """Append one record durably (written and fsynced when this returns)."""
        self.ensure_dir()
        line = record.to_line()
        while True:
            fd = os.open(self.active, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                try:
                    current = os.stat(self.active)
                except FileNotFoundError:
                    continue  # renamed by a replayer between open and lock: open the new file
                opened = os.fstat(fd)
                if (current.st_dev, current.st_ino) != (opened.st_dev, opened.st_ino):
                    continue
                os.fchmod(fd, 0o600)
                os.write(fd, line)
                os.fsync(fd)
                return
            finally:
                os.close(fd)  # also releases the lock

    def has_pending(self) -> bool:
        try:
            return self.directory.is_dir() and any(self._pending_files())
        except OSError:  # e.g. a report run by a user who cannot read the service's spool
            return False

    def _pending_files(self) -> Iterator[Path]:
        for path in sorted(self.directory.iterdir()):
            if path.name == ACTIVE_NAME or path.name.endswith(REPLAYING_SUFFIX):
                yield path

    def claim(self) -> list[Path]:
        """Files to replay, oldest first: leftovers of interrupted replays, then the active file.

        The active file is renamed away first so appends made during the replay start a new file.
        """
        if not self.directory.is_dir():
            return []
        claimed = sorted(p for p in self.directory.iterdir() if p.name.endswith(REPLAYING_SUFFIX))
        if self.active.exists():
            target = self.directory / f"spool-{time.time_ns():020d}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            target = target.with_name(target.name + REPLAYING_SUFFIX)
            with contextlib.suppress(FileNotFoundError):  # another process claimed it first
                os.rename(self.active, target)
                claimed.append(target)
        return claimed

    def read_claimed(self, path: Path) -> list[SpooledRecord]:
        """Every record in a claimed file, after waiting for writers still holding it."""
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return []  # finished by another process
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            with os.fdopen(os.dup(fd), "rb") as fh:
                raw = fh.read()
        finally:
            os.close(fd)
        records: list[SpooledRecord] = []
        bad: list[bytes] = []
        for line in raw.splitlines():
            if not line.strip():
                continue
            try:
                records.append(SpooledRecord.from_line(line))
            except (ValueError, KeyError, TypeError):
                bad.append(line)
        if bad:
            self._quarantine(path, bad)
        return records

    def _quarantine(self, path: Path, lines: list[bytes]) -> None:
        """Keep unreadable lines (a crash mid-write) for a human instead of dropping them."""
        target = path.with_name(path.name.removesuffix(REPLAYING_SUFFIX) + ".bad")
        fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, b"".join(line + b"\n" for line in lines))
            os.fsync(fd)
        finally:
            os.close(fd)
        log.error("spool: %d unreadable line(s) moved to %s", len(lines), target)

    def finish(self, path: Path, remaining: list[SpooledRecord]) -> None:
        """Drop the claimed file, or shrink it to the records not yet replayed (atomic replace)."""
        if not remaining:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            return
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, b"".join(r.to_line() for r in remaining))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
