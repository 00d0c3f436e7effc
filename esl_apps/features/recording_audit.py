"""The local, append-only audit of recording decisions and PCI mask spans (JSON Lines).

Redis holds the same facts for dashboards, but a regulator's question ("did this caller agree to
be recorded?") must be answerable from the machine that made the call even when Redis lost data,
so every decision is also appended here, synchronously, before the call moves on. The file and
its directory are private to the service user: they name callers and recording paths.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

__all__ = ["AuditFile", "RecordSink", "make_private_dirs"]

log = logging.getLogger(__name__)


class RecordSink(Protocol):
    """The part of ``esl_apps.store.records.RecordLog`` the features use (never raises on outage)."""

    async def append(
        self, stream: str, record: Mapping[str, Any], *, doc_key: str | None = None, ttl_s: int | None = None
    ) -> str: ...


def make_private_dirs(path: Path, *, root: Path | None = None) -> None:
    """Create ``path`` and missing parents with mode 0700. ``os.makedirs(mode=)`` applies the mode
    to the leaf only, which would leave intermediate recording folders world-readable."""
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        if root is not None and current == root:
            break
        if current.parent == current:
            break
        current = current.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):
            directory.mkdir(mode=0o700)


class AuditFile:
    """Appends one JSON object per line to ``path`` (mode 0600).

    Each line is written (one ``write`` on an O_APPEND descriptor, so it is in the file and survives
    a crash of this process) before :meth:`append` returns; the fsync that makes it survive a power
    loss is batched, at most ``fsync_interval_s`` later, so a call does not wait for the disk.
    ``fsync_interval_s=0`` fsyncs every line before returning.
    """

    def __init__(self, path: str | Path, *, fsync_interval_s: float = 0.2) -> None:
        self.path = Path(path)
        self.fsync_interval_s = fsync_interval_s
        self._lock = threading.Lock()
        self._dir_ready = False
        self._sync_task: asyncio.Task[None] | None = None

    def append_sync(self, record: Mapping[str, Any], *, fsync: bool = True) -> None:
        line = json.dumps(dict(record), separators=(",", ":"), default=str, ensure_ascii=False) + "\n"
        with self._lock:
            if not self._dir_ready:
                make_private_dirs(self.path.parent)
                self._dir_ready = True
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            except FileNotFoundError:  # the directory was removed since (e.g. by a cleanup job)
                make_private_dirs(self.path.parent)
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                if os.fstat(fd).st_mode & 0o077:
                    os.fchmod(fd, 0o600)  # an admin-created file must not stay world-readable
                os.write(fd, line.encode())
                if fsync:
                    os.fsync(fd)
            finally:
                os.close(fd)

    def sync(self) -> None:
        """fsync what has been appended so far."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    async def append(self, record: Mapping[str, Any]) -> bool:
        """True when written; an unwritable audit file is logged loudly but does not drop the call."""
        immediate = self.fsync_interval_s <= 0
        try:
            if immediate:
                await asyncio.to_thread(self.append_sync, record, fsync=True)
            else:
                self.append_sync(record, fsync=False)  # a page-cache write: microseconds
        except OSError as exc:
            log.error("cannot write audit file %s: %s (call %s)", self.path, exc, record.get("call_uuid"))
            return False
        if not immediate and (self._sync_task is None or self._sync_task.done()):
            self._sync_task = asyncio.get_running_loop().create_task(self._sync_soon())
        return True

    async def _sync_soon(self) -> None:
        await asyncio.sleep(self.fsync_interval_s)
        try:
            await asyncio.to_thread(self.sync)
        except OSError as exc:
            log.error("cannot fsync audit file %s: %s", self.path, exc)

    async def close(self) -> None:
        """Flush the pending fsync (on shutdown)."""
        task, self._sync_task = self._sync_task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await asyncio.to_thread(self.sync)

    def read(self) -> list[dict[str, Any]]:
        """All records (tests, `esl-apps` tooling); a missing file is an empty audit."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in text.splitlines() if line.strip()]
