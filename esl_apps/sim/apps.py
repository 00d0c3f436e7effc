"""mod_dptools applications without media: answer, set/unset/export, log, hangup, transfer, sleep,
bind_meta_app. Each is registered with :func:`esl_apps.sim.session.application`.
"""

from __future__ import annotations

import logging

from esl_apps.sim.session import AppContext, application

log = logging.getLogger(__name__)


@application("answer")
async def answer_app(ctx: AppContext) -> None:
    ctx.emu.answer(ctx.ch)


@application("pre_answer")
async def pre_answer_app(ctx: AppContext) -> None:
    ctx.ch.pre_answer(ctx.emu.media_params(ctx.ch))


@application("ring_ready")
async def ring_ready_app(ctx: AppContext) -> None:
    if not ctx.ch.profile.get("Channel-Progress-Time", "0").strip("0"):
        ctx.ch.stamp("Channel-Progress-Time")
        ctx.ch.fire("CHANNEL_PROGRESS")


def _split_assignment(arg: str) -> tuple[str, str | None]:
    name, sep, value = arg.partition("=")
    name = name.strip()
    if not sep or value == "":
        return name, None
    return name, value


@application("set")
async def set_app(ctx: AppContext) -> None:
    name, value = _split_assignment(ctx.arg)
    if name:
        ctx.ch.set_var(name, value)


@application("unset")
async def unset_app(ctx: AppContext) -> None:
    if ctx.arg.strip():
        ctx.ch.set_var(ctx.arg.strip(), None)


@application("multiset")
async def multiset_app(ctx: AppContext) -> None:
    arg = ctx.arg
    delim = " "
    if arg.startswith("^^") and len(arg) > 2:
        delim, arg = arg[2], arg[3:]
    for item in arg.split(delim):
        name, value = _split_assignment(item)
        if name:
            ctx.ch.set_var(name, value)


@application("export")
async def export_app(ctx: AppContext) -> None:
    name, value = _split_assignment(ctx.arg)
    if not name:
        return
    local = not name.startswith("nolocal:")
    name = name.removeprefix("nolocal:")
    if local:
        ctx.ch.set_var(name, value)
    exported = [v for v in (ctx.ch.vars.get("export_vars") or "").split(",") if v]
    exported.append(name)
    ctx.ch.set_var("export_vars", ",".join(exported))
    ctx.session.exports[name] = value


@application("log")
async def log_app(ctx: AppContext) -> None:
    level, _, text = ctx.arg.partition(" ")
    log.info("[%s] %s: %s", level or "DEBUG", ctx.ch.name, text or ctx.arg)


@application("info")
async def info_app(ctx: AppContext) -> None:
    return None


@application("hangup")
async def hangup_app(ctx: AppContext) -> None:
    cause = ctx.arg.strip() or "NORMAL_CLEARING"
    ctx.emu.hangup(ctx.ch, cause, remote=False)


@application("sleep")
async def sleep_app(ctx: AppContext) -> None:
    try:
        ms = int(ctx.arg.strip() or "0")
    except ValueError:
        ms = 0
    await ctx.session.wait(ms / 1000)


@application("transfer")
async def transfer_app(ctx: AppContext) -> None:
    """``transfer <ext> [XML] [context]``: the extension runs after this application returns; a
    running socket application ends (CHANNEL_UNPARK + its EXECUTE_COMPLETE, trace 08)."""
    words = ctx.arg.split()
    if not words:
        return
    context = words[2] if len(words) > 2 else ctx.ch.profile.get("Context", "default")
    ctx.emu.transfer(ctx.session, words[0], context, kind="bl_xfer", interrupt=False)


@application("bind_meta_app")
async def bind_meta_app(ctx: AppContext) -> None:
    """``<key> <listen a|b|ab> <flags> <app>[::args]`` (default meta key ``*``, trace 04f)."""
    parts = ctx.arg.split(" ", 3)
    if len(parts) < 4:
        return
    key, listen, flags, app = parts
    ctx.session.meta_bindings[key] = (listen, flags, app)


@application("unbind_meta_app")
async def unbind_meta_app(ctx: AppContext) -> None:
    key = ctx.arg.strip()
    if key:
        ctx.session.meta_bindings.pop(key, None)
    else:
        ctx.session.meta_bindings.clear()


@application("event")
async def event_app(ctx: AppContext) -> None:
    return None


@application("respond")
async def respond_app(ctx: AppContext) -> None:
    code = ctx.arg.split(" ")[0]
    if code.startswith(("18",)):
        ctx.ch.pre_answer(ctx.emu.media_params(ctx.ch))
    elif code.startswith(("4", "5", "6")):
        ctx.emu.hangup(ctx.ch, "CALL_REJECTED", remote=False)
