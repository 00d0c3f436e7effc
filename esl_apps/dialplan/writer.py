"""Compare rendered files with the output directory, print the difference, write atomically.

FreeSWITCH may run ``reloadxml`` at any moment (another admin, a cron job), so a file must never
be seen half written: each one is written to a temporary file in the same directory and renamed
over the old one (``os.replace`` is atomic on POSIX). The temporary name starts with a dot and
does not end in ``.xml``, so FreeSWITCH's ``*.xml`` include glob never picks it up. Unchanged
files are not touched (their mtime stays, tools watching the directory stay quiet). esl-apps
files that the configuration no longer produces (a context renamed) are deleted; any other file
in the directory is never touched.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from esl_apps.dialplan.render import GENERATED_NAME

__all__ = ["Change", "Plan", "apply", "plan", "unified_diff"]

FILE_MODE = 0o644  # FreeSWITCH runs as its own user and must read them; they hold no secrets


@dataclass(frozen=True, slots=True)
class Change:
    relpath: str
    old: str | None  # None: the file does not exist yet
    new: str | None  # None: a stale esl-apps file to delete

    @property
    def kind(self) -> str:
        if self.old is None:
            return "create"
        return "delete" if self.new is None else "update"


@dataclass(frozen=True, slots=True)
class Plan:
    out_dir: Path
    changes: tuple[Change, ...]
    unchanged: tuple[str, ...]

    @property
    def clean(self) -> bool:
        return not self.changes


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        return path.read_bytes().decode("utf-8", errors="replace")


def _stale(out_dir: Path, wanted: Mapping[str, str]) -> list[str]:
    if not out_dir.is_dir():
        return []
    stale = []
    for context_dir in sorted(p for p in out_dir.iterdir() if p.is_dir()):
        for path in sorted(context_dir.iterdir()):
            relpath = f"{context_dir.name}/{path.name}"
            if path.is_file() and GENERATED_NAME.fullmatch(path.name) and relpath not in wanted:
                stale.append(relpath)
    return stale


def plan(out_dir: Path, files: Mapping[str, str]) -> Plan:
    """What writing ``files`` (relative path -> text) into ``out_dir`` would change."""
    out_dir = Path(out_dir)
    changes: list[Change] = []
    unchanged: list[str] = []
    for relpath in sorted(files):
        old = _read(out_dir / relpath)
        if old == files[relpath]:
            unchanged.append(relpath)
        else:
            changes.append(Change(relpath, old, files[relpath]))
    for relpath in _stale(out_dir, files):
        changes.append(Change(relpath, _read(out_dir / relpath), None))
    return Plan(out_dir, tuple(sorted(changes, key=lambda c: c.relpath)), tuple(unchanged))


def unified_diff(plan_: Plan) -> str:
    """``diff -u`` style text for every change (``/dev/null`` for created and deleted files)."""
    chunks = []
    for change in plan_.changes:
        old_name = "/dev/null" if change.old is None else f"a/{change.relpath}"
        new_name = "/dev/null" if change.new is None else f"b/{change.relpath}"
        lines = list(
            difflib.unified_diff(
                (change.old or "").splitlines(keepends=True),
                (change.new or "").splitlines(keepends=True),
                fromfile=old_name,
                tofile=new_name,
            )
        )
        if not lines:  # an empty file created or deleted: still say so
            lines = [f"--- {old_name}\n", f"+++ {new_name}\n"]
        for line in lines:
            chunks.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(chunks)


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, FILE_MODE)
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def _sync_dir(directory: Path) -> None:
    # The rename is durable only once the directory entry is; best effort where unsupported.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def apply(plan_: Plan) -> None:
    """Carry out ``plan_``: atomic writes for creates/updates, unlink for stale files."""
    touched: set[Path] = set()
    for change in plan_.changes:
        path = plan_.out_dir / change.relpath
        if change.new is None:
            path.unlink(missing_ok=True)
        else:
            write_atomic(path, change.new)
        touched.add(path.parent)
    for directory in sorted(touched):
        _sync_dir(directory)
