"""Turning prompt specs (files, ``{tts}``, ``{say}``) into what the switch plays.

A ``play`` node plays each item with its own command, so the trace shows each. Prompts that wait
for digits (menus, collects, consent) must be ONE playable string so the caller can key through
them (barge-in): several items become ``file_string://a!b``, TTS becomes ``say:<text>`` with the
channel's ``tts_engine``/``tts_voice`` set first (FreeSWITCH's play-file syntax, understood by
``play_and_get_digits``). ``say`` values have no such syntax, so they are played just before the
digit collection, without barge-in.
"""

from __future__ import annotations

from collections.abc import Sequence

from esl_apps.config.flows import PromptItem, SayPrompt, SaySpec, TtsPrompt
from esl_apps.config.validate import missing_prompt
from esl_apps.engine.context import FlowContext

__all__ = [
    "collect_prompt",
    "ensure_tts",
    "play_items",
    "playable",
    "prompt_label",
    "render",
    "say_value",
    "split_for_collect",
]

SILENCE = "silence_stream://250"


def prompt_label(item: PromptItem, ctx: FlowContext) -> str:
    """How a prompt shows in the trace: the file, ``tts:<text>`` or ``say:<type>:<value>``."""
    if isinstance(item, TtsPrompt):
        return f"tts:{ctx.expand(item.tts)}"
    if isinstance(item, SayPrompt):
        return f"say:{item.say.type}:{ctx.expand(item.say.value)}"
    return ctx.expand(item)


def _tts_voice(item: TtsPrompt, ctx: FlowContext) -> tuple[str, str]:
    return (item.engine or ctx.flow.tts.engine, item.voice or ctx.flow.tts.voice)


async def say_value(spec: SaySpec, ctx: FlowContext) -> None:
    kind, method = spec.type, spec.method
    if kind == "digits":  # read one digit at a time
        kind, method = "number", "iterated"
    await ctx.call.say(spec.language or ctx.flow.language, kind, method, ctx.expand(spec.value))


def _skipped_missing(path: str, ctx: FlowContext) -> bool:
    """A prompt file the switch would not find (checked under ``dialplan.sounds_dir`` when that
    folder is on this machine, as with ESL on loopback) is left out and logged. Inside a digit
    collection it must be: FreeSWITCH's read gives up at once when its prompt cannot be opened
    (switch_ivr_read), so every try would pass without the caller being able to key anything."""
    if not missing_prompt(ctx.pbx.dialplan.sounds_dir, path):
        return False
    ctx.logger.warning("call %s: prompt %s not found (node %s); left out", ctx.uuid, path, ctx.node_id)
    ctx.step.detail.setdefault("missing_prompts", []).append(path)
    return True


async def play_items(items: Sequence[PromptItem], ctx: FlowContext) -> None:
    """Play items one by one (no digits expected); a missing file is logged, the flow goes on."""
    for item in items:
        label = prompt_label(item, ctx)
        ctx.step.prompts.append(label)
        if isinstance(item, TtsPrompt):
            engine, voice = _tts_voice(item, ctx)
            await ctx.call.speak(ctx.expand(item.tts), engine, voice)
        elif isinstance(item, SayPrompt):
            await say_value(item.say, ctx)
        elif _skipped_missing(label, ctx):
            continue
        else:
            reply = await ctx.call.play(label)
            if "NOT FOUND" in reply.upper():
                ctx.logger.warning("call %s: prompt %s not found (node %s)", ctx.uuid, label, ctx.node_id)
                ctx.step.detail.setdefault("missing_prompts", []).append(label)


def _tts_text(text: str) -> str:
    """TTS text inside a playable string: "!" separates file_string:// items, older FreeSWITCH
    splits ``say:`` text at ":", and the play_and_get_digits argument splitter treats quotes as
    quoting (the words read the same without them)."""
    return text.replace("!", ".").replace(":", " ").replace("'", "").replace('"', "")


def render(
    items: Sequence[PromptItem] | None, ctx: FlowContext
) -> tuple[str | None, tuple[str, str] | None, list[str]]:
    """(playable string, the TTS engine/voice it needs on the channel, trace labels) with no
    side effect, so callers decide when the channel is touched. ``say`` items are skipped: use
    :func:`split_for_collect` where they may occur."""
    if not items:
        return None, None, []
    parts: list[str] = []
    labels: list[str] = []
    voice: tuple[str, str] | None = None
    for item in items:
        if isinstance(item, SayPrompt):
            ctx.logger.warning(
                "call %s: node %s: a say value cannot be part of this prompt; skipped", ctx.uuid, ctx.node_id
            )
            continue
        if isinstance(item, TtsPrompt):
            labels.append(prompt_label(item, ctx))
            voice = _tts_voice(item, ctx)
            parts.append("say:" + _tts_text(ctx.expand(item.tts)))
        elif not _skipped_missing(path := ctx.expand(item), ctx):
            labels.append(path)  # a file's label is its expanded path (prompt_label)
            parts.append(path)
    if not parts:
        return None, None, labels
    text = parts[0] if len(parts) == 1 else "file_string://" + "!".join(parts)
    return text, voice, labels


async def ensure_tts(voice: tuple[str, str] | None, ctx: FlowContext) -> None:
    """``say:`` prompts use the channel's tts_engine/tts_voice; set them once per call (per voice)."""
    if voice is not None and ctx.tts_set != voice:
        await ctx.call.set_vars({"tts_engine": voice[0], "tts_voice": voice[1]})
        ctx.tts_set = voice


async def playable(
    items: Sequence[PromptItem] | None, ctx: FlowContext, *, record: bool = True
) -> str | None:
    """One string for the switch to play while it waits for digits."""
    text, voice, labels = render(items, ctx)
    await ensure_tts(voice, ctx)
    if record:
        ctx.step.prompts.extend(labels)
    return text


def split_for_collect(items: Sequence[PromptItem]) -> tuple[tuple[PromptItem, ...], tuple[PromptItem, ...]]:
    """(played first without barge-in, played by the collect): everything up to the last ``say``."""
    last_say = max((i for i, item in enumerate(items) if isinstance(item, SayPrompt)), default=-1)
    return tuple(items[: last_say + 1]), tuple(items[last_say + 1 :])


async def collect_prompt(items: Sequence[PromptItem], ctx: FlowContext) -> str:
    """Play the part that cannot barge in, return the playable rest (silence if nothing is left)."""
    before, rest = split_for_collect(items)
    if before:
        await play_items(before, ctx)
    return await playable(rest, ctx) or SILENCE
