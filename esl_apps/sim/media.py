"""Playing audio: how long a prompt lasts and what ``playback``/``speak``/``say`` report.

Durations: ``tone_stream://%(on,off,hz)[;loops=N]`` and ``silence_stream://ms`` are computed as
FreeSWITCH would play them; files last ``emu.prompt_s`` unless ``emu.file_durations`` says otherwise;
files in ``emu.missing_files`` give FILE NOT FOUND at once. A hangup ends playback with PLAYBACK
ERROR (trace 01), a break (uuid_break) with FILE PLAYED, a socket ``resume`` disconnect with PLAYBACK
ERROR (06b).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from esl_apps.sim.session import AppContext, application

if TYPE_CHECKING:
    from esl_apps.sim.emulator import Emulator
    from esl_apps.sim.session import ChannelSession

_TONE = re.compile(r"%\(\s*(\d+)\s*,\s*(\d+)\s*(?:,[^)]*)?\)")
_LOOPS = re.compile(r"loops=(-?\d+)")
INFINITE = 24 * 3600.0


def source_duration(emu: Emulator, source: str) -> float | None:
    """Seconds a source plays for; None when the file does not exist."""
    source = source.strip()
    if source.startswith("file_string://"):
        total = 0.0
        for part in source[len("file_string://"):].split("!"):
            length = source_duration(emu, part)
            if length is None:
                return None
            total += length
        return total
    if source.startswith("tone_stream://"):
        body = source[len("tone_stream://"):]
        per_loop = sum(int(on) + int(off) for on, off in _TONE.findall(body)) / 1000
        loops_match = _LOOPS.search(body)
        loops = int(loops_match.group(1)) if loops_match else 1
        if loops < 0:
            return INFINITE
        return per_loop * max(1, loops)
    if source.startswith("silence_stream://"):
        ms = source[len("silence_stream://"):].split(",")[0]
        try:
            value = int(ms)
        except ValueError:
            return emu.prompt_s
        return INFINITE if value < 0 else value / 1000
    if source in emu.missing_files:
        return None
    if source.startswith("local_stream://"):
        return INFINITE
    return emu.file_durations.get(source, emu.prompt_s)


@dataclass
class PlayResult:
    status: str  # done | break | hangup | notfound | digit
    seconds: float
    digit: str | None = None


async def play(session: ChannelSession, source: str, *, digits: bool = False) -> PlayResult:
    """Play one source on the channel. With ``digits`` a DTMF key stops it (the key stays queued)."""
    emu, ch = session.emu, session.ch
    length = source_duration(emu, source)
    if length is None:
        return PlayResult("notfound", 0.0)
    if not ch.up:
        return PlayResult("hangup", 0.0)
    start = emu.clock.elapsed()
    if not digits:
        outcome = await session.wait(length)
    else:
        outcome = await session.wait_digit_or(length)
    played = min(length, max(0.0, emu.clock.elapsed() - start))
    if outcome == "done":
        played = length
    return PlayResult(outcome, played)


def set_playback_vars(session: ChannelSession, seconds: float) -> None:
    ms = round(seconds * 1000)
    samples = ms * 8
    session.ch.set_vars([("playback_last_offset_pos", str(samples)), ("playback_seconds", str(ms // 1000)),
                         ("playback_ms", str(ms)), ("playback_samples", str(samples))])


def _file_type(source: str) -> list[tuple[str, str]]:
    if source.startswith("tone_stream:"):
        return [("Playback-File-Type", "tone_stream")]
    if source.startswith("local_stream:"):
        return [("Playback-File-Type", "local_stream")]
    return []


async def playback_file(ctx: AppContext, source: str) -> str:
    """switch_ivr_play_file + the playback application's response text."""
    session, ch = ctx.session, ctx.ch
    if ch.up and not ch.answered:
        ch.pre_answer(ctx.emu.media_params(ch))
    length = source_duration(ctx.emu, source)
    if length is None:
        return "FILE NOT FOUND"
    ch.fire("PLAYBACK_START", after=[*_file_type(source), ("Playback-File-Path", source)])
    result = await play(session, source)
    set_playback_vars(session, result.seconds)
    status = "break" if result.status in ("break", "hangup") else "done"
    ch.fire("PLAYBACK_STOP", after=[*_file_type(source), ("Playback-File-Path", source),
                                     ("Playback-Status", status)])
    if result.status == "hangup" or (result.status == "break" and session.socket_resumed):
        return "PLAYBACK ERROR"
    return "FILE PLAYED"


@application("playback")
async def playback_app(ctx: AppContext) -> None:
    ch = ctx.ch
    ch.set_var("playback_terminator_used", "")
    ctx.respond(await playback_file(ctx, ctx.arg))


@application("endless_playback")
async def endless_playback_app(ctx: AppContext) -> None:
    while ctx.ch.up:
        response = await playback_file(ctx, ctx.arg)
        if response != "FILE PLAYED" or ctx.ch.break_event.is_set():
            break


@application("speak")
async def speak_app(ctx: AppContext) -> None:
    """``speak engine|voice|text``: TTS lasts about 60 ms a character (at least ``prompt_s``)."""
    text = ctx.arg.split("|", 2)[-1]
    if ctx.ch.up and not ctx.ch.answered:
        ctx.ch.pre_answer(ctx.emu.media_params(ctx.ch))
    await ctx.session.wait(max(ctx.emu.prompt_s, 0.06 * len(text)))


@application("say")
async def say_app(ctx: AppContext) -> None:
    if ctx.ch.up and not ctx.ch.answered:
        ctx.ch.pre_answer(ctx.emu.media_params(ctx.ch))
    await ctx.session.wait(ctx.emu.prompt_s)


@application("gentones")
async def gentones_app(ctx: AppContext) -> None:
    await ctx.session.wait(source_duration(ctx.emu, "tone_stream://" + ctx.arg) or 0.0)
