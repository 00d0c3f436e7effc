"""Call recording: record_session / stop_record_session and ``uuid_record ... mask|unmask``.

Events as in trace 05: RECORD_START between record_session's EXECUTE and EXECUTE_COMPLETE (the
application returns at once); stop_record_session gives EXECUTE, RECORD_STOP (with record_seconds,
record_ms, record_samples...), EXECUTE_COMPLETE; mask/unmask emit nothing. At hangup an active
recording stops (RECORD_STOP right after CHANNEL_HANGUP). With ``emu.write_recordings`` the file is
written as 8 kHz mono 16-bit WAV, masked stretches as digital silence, mode 0600.
"""

from __future__ import annotations

import array
import math
import os
import wave
from pathlib import Path
from typing import TYPE_CHECKING

from esl_apps.sim.record import Recording
from esl_apps.sim.session import AppContext, application

if TYPE_CHECKING:
    from esl_apps.sim.channel import Channel
    from esl_apps.sim.emulator import Emulator

RATE = 8000


def start_recording(emu: Emulator, ch: Channel, path: str, kind: str = "record_session") -> Recording:
    rec = Recording(path, ch.uuid, emu.clock.elapsed(), kind=kind)
    emu.active_recordings.setdefault(ch.uuid, []).append(rec)
    for record in ch.records:
        record.recordings.append(rec)
    return rec


def stop_recording(emu: Emulator, ch: Channel, rec: Recording, *, cause: str = "success-maxtime",
                   calling: tuple[str, str, str] | None = None, completion_header: bool = True) -> None:
    active = emu.active_recordings.get(ch.uuid, [])
    if rec in active:
        active.remove(rec)
    rec.stop = emu.clock.elapsed()
    for span in rec.masks:
        if span[1] is None:
            span[1] = rec.stop
    ms = round((rec.stop - rec.start) * 1000)
    samples = ms * RATE // 1000
    ch.set_vars([("record_file_size", str(44 + samples * 2)), ("record_samples", str(samples)),
                 ("record_seconds", str(ms // 1000)), ("record_ms", str(ms)),
                 ("record_completion_cause", cause)])
    after = [("Record-File-Path", rec.path)]
    if completion_header:
        after.append(("Record-Completion-Cause", cause))
    ch.fire("RECORD_STOP", after=after, calling=calling)
    if emu.write_recordings:
        write_wav(rec)


def stop_all(emu: Emulator, ch: Channel) -> None:
    for rec in list(emu.active_recordings.get(ch.uuid, [])):
        if rec.kind == "record_session":
            stop_recording(emu, ch, rec)


def mask(emu: Emulator, ch: Channel, path: str, on: bool) -> bool:
    for rec in emu.active_recordings.get(ch.uuid, []):
        if rec.path == path or path == "all":
            now = emu.clock.elapsed()
            if on and not (rec.masks and rec.masks[-1][1] is None):
                rec.masks.append([now, None])
            elif not on and rec.masks and rec.masks[-1][1] is None:
                rec.masks[-1][1] = now
            return True
    return False


def write_wav(rec: Recording) -> None:
    """The recording as FreeSWITCH writes it: a tone stands in for the audio, masks are zeros."""
    target = Path(rec.path)
    if not target.parent.is_dir() or rec.stop is None:
        return
    total = int((rec.stop - rec.start) * RATE)
    masked = [(int((s - rec.start) * RATE), int(((e or rec.stop) - rec.start) * RATE)) for s, e in rec.masks]
    period = array.array("h", (int(8000 * math.sin(2 * math.pi * 440 * i / RATE)) for i in range(RATE // 40)))
    frames = (period * (total // len(period) + 1))[:total]
    for start, end in masked:
        start, end = max(0, start), min(total, end)
        if end > start:
            frames[start:end] = array.array("h", bytes(2 * (end - start)))
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as raw, wave.open(raw, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(frames.tobytes())


@application("record_session")
async def record_session_app(ctx: AppContext) -> None:
    path = ctx.arg.split()[0] if ctx.arg.strip() else ""
    if not path or not ctx.ch.up:
        return
    await ctx.session.wait(0.02)  # the media bug starts on the next frame
    start_recording(ctx.emu, ctx.ch, path)
    ctx.ch.fire("RECORD_START", after=[("Record-File-Path", path)])


@application("stop_record_session")
async def stop_record_session_app(ctx: AppContext) -> None:
    path = ctx.arg.strip()
    for rec in list(ctx.emu.active_recordings.get(ctx.ch.uuid, [])):
        if rec.kind == "record_session" and (path in ("all", "") or rec.path == path):
            stop_recording(ctx.emu, ctx.ch, rec)
