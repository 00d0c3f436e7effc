"""DTMF input: ``play_and_get_digits`` and ``read``, following switch_ivr_read() step by step.

The facts trace 02 shows come out of the same algorithm FreeSWITCH runs: one DTMF event per key when
it is taken from the channel (terminator included); a key during the prompt stops the prompt; a
timeout with too few digits is ``read_result=failure`` (not ``timeout``); a regex miss stores the
input in ``<var>_invalid`` and clears ``<var>``; the invalid prompt plays after every failed try.
The person on the leg (caller script or agent) keys the next entry of its digit list at every try.
"""

from __future__ import annotations

import re

from esl_apps.sim.media import play, set_playback_vars
from esl_apps.sim.session import AppContext, ChannelSession, application


def _unescape(char: str) -> str:
    return {"n": "\n", "r": "\r", "t": "\t", "s": " "}.get(char, char)


def _cleanup(token: str) -> str:
    """cleanup_separated_string(token, 0): drop single quotes, turn the escapes \\n \\r \\t \\s
    \\' and \\" into their characters, keep any other backslash (so a regex's ``\\d`` survives),
    and trim leading and trailing blanks outside quotes."""
    i, n = 0, len(token)
    while i < n and token[i] == " ":
        i += 1
    out: list[str] = []
    end = 0
    inside = False
    while i < n:
        char = token[i]
        if char == "\\" and i + 1 < n:
            nxt = token[i + 1]
            unescaped = _unescape(nxt)
            if nxt in "'\"" or unescaped != nxt:
                out.append(unescaped)
                end = len(out)
                i += 2
                continue
        if char == "'":
            inside = not inside
        else:
            out.append(char)
            if char != " " or inside:
                end = len(out)
        i += 1
    return "".join(out[:end]) if end else "".join(out)


def separate(text: str, limit: int = 128) -> list[str]:
    """switch_separate_string(buf, ' ', ...) exactly: words split on blanks outside single quotes
    (a backslash protects the next character), then each word cleaned up as FreeSWITCH does."""
    bounds: list[list[int]] = []
    i, n = 0, len(text)
    inside = False
    state = "start"
    while i < n and len(bounds) <= limit:
        char = text[i]
        if state == "start":
            bounds.append([i, n])
            state = "skip_initial"
        elif state == "skip_initial":
            if char == " ":
                i += 1
            else:
                state = "find"
        elif state == "find":
            if char == "\\":
                i += 1
            elif char == "'":
                inside = not inside
            elif char == " " and not inside:
                bounds[-1][1] = i
                state = "skip_end"
            i += 1
        elif char == " ":
            i += 1
        else:
            state = "start"
    return [_cleanup(text[start:stop]) for start, stop in bounds[:limit]]


def _int(text: str | None, default: int) -> int:
    try:
        return int(text) if text not in (None, "") else default
    except ValueError:
        return default


async def read_digits(session: ChannelSession, min_digits: int, max_digits: int, prompt: str, var: str | None,
                      timeout_ms: int, terminators: str, digit_timeout_ms: int) -> str:
    """switch_ivr_read(): returns the status (success, timeout, too_small, false)."""
    ch, emu = session.ch, session.emu
    if not digit_timeout_ms:
        digit_timeout_ms = timeout_ms
    max_digits = max(max_digits, min_digits)
    ch.set_var("read_result", None)
    if var:
        ch.set_var(var, None)
    if not ch.up:
        return "false"
    if not ch.answered:
        ch.pre_answer(emu.media_params(ch))
    emu.person_keys(session)
    buf = ""
    status = "success"
    if prompt and prompt.lower() != "silence":
        result = await play(session, prompt, digits=True)
        set_playback_vars(session, result.seconds)
        if result.status in ("notfound", "hangup"):
            session.read_buffer = ""
            return "false"  # `goto end`: read_result stays unset
        if result.status == "digit":
            buf += session.take_digit()
    terminator = ""
    if status == "success" and ((min_digits and len(buf) < min_digits) or len(buf) < max_digits):
        status, buf, terminator = await _collect(session, buf, max_digits, terminators,
                                                 digit_timeout_ms if buf else timeout_ms, digit_timeout_ms)
    if terminator:
        ch.set_var("read_terminator_used", terminator)
    if status != "false" and min_digits and len(buf) < min_digits:
        status = "too_small"
    ch.set_var("read_result", {"success": "success", "timeout": "timeout"}.get(status, "failure"))
    if max_digits == 1 and len(buf) == 1 and terminators and buf in terminators:
        buf = ""
    if var and buf:
        ch.set_var(var, buf)
    session.read_buffer = buf
    return status


async def _collect(session: ChannelSession, buf: str, max_digits: int, terminators: str, first_ms: int,
                   digit_ms: int) -> tuple[str, str, str]:
    """switch_ivr_collect_digits_count(): -> (status, buffer, terminator)."""
    wait_ms = first_ms
    while len(buf) < max_digits:
        outcome = await session.wait_digit_or(wait_ms / 1000)
        if outcome == "hangup":
            return "false", buf, ""
        if outcome != "digit":
            if outcome == "break":
                return "false", buf, ""
            return "timeout", buf, ""
        digit = session.take_digit()
        if terminators and digit in terminators:
            return "success", buf, digit
        buf += digit
        wait_ms = digit_ms
    return "success", buf, ""


@application("play_and_get_digits")
async def play_and_get_digits_app(ctx: AppContext) -> None:
    """``min max tries timeout terminators file invalid_file [var [regex [digit_timeout [fail]]]]``."""
    args = separate(ctx.arg)
    if len(args) < 7:
        return
    min_d, max_d, tries = _int(args[0], 0), _int(args[1], 0), _int(args[2], 1)
    timeout = max(1000, _int(args[3], 1000))
    terminators = args[4] if args[4] != "none" else ""
    prompt, invalid = args[5], args[6]
    var = args[7] if len(args) > 7 else "pagd_input"
    regex = args[8] if len(args) > 8 else ""
    digit_timeout = _int(args[9], timeout) if len(args) > 9 else timeout
    transfer_on_failure = args[10] if len(args) > 10 else ""
    session, ch = ctx.session, ctx.ch
    if regex and var:
        ch.set_var(f"{var}_invalid", None)
    while ch.up and tries > 0:
        status = await read_digits(session, min_d, max_d, prompt, var, timeout, terminators, digit_timeout)
        buf = session.read_buffer
        if status == "timeout" and len(buf) >= min_d:
            status = "success"
        if min_d == 0 and not buf and ch.vars.get("read_terminator_used") is not None:
            return
        if status == "success" and buf:
            if not regex or re.search(regex, buf):
                return
            ch.set_var(var, None)
            ch.set_var(f"{var}_invalid", buf)
        if not ch.up:
            break
        if invalid and invalid.lower() != "silence":
            result = await play(session, invalid, digits=True)
            if result.status == "hangup":
                break
        tries -= 1
    if transfer_on_failure and ch.up:
        words = transfer_on_failure.split()
        context = words[2] if len(words) > 2 else ch.profile.get("Context", "default")
        ctx.emu.transfer(session, words[0], context, kind="bl_xfer", interrupt=False)


@application("read")
async def read_app(ctx: AppContext) -> None:
    """``read <min> <max> <file> <var> <timeout> <terminators> [digit_timeout]``."""
    args = separate(ctx.arg)
    if len(args) < 4:
        return
    min_d, max_d = _int(args[0], 0), _int(args[1], 0)
    prompt, var = args[2], args[3]
    timeout = max(1000, _int(args[4] if len(args) > 4 else None, 1000))
    terminators = args[5] if len(args) > 5 else "#"
    digit_timeout = _int(args[6], timeout) if len(args) > 6 else timeout
    await read_digits(ctx.session, min_d, max_d, prompt, var, timeout, terminators, digit_timeout)
