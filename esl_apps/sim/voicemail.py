"""mod_voicemail's deposit (``voicemail <profile> <domain> <id>``), as trace 08 shows it.

Answer if needed, greeting and instructions unless ``skip_greeting`` / ``skip_instructions``, a
beep, then RECORD_START; the message records until the caller hangs up (or stops talking: the
caller script's ``audio_s`` plus 3 s of silence). Then RECORD_STOP, the ``vm::maintenance`` CUSTOM
event (``VM-Action: leave-message``), and the voicemail_* variables on EXECUTE_COMPLETE. With
``emu.voicemail_prompts_missing`` the application returns after ~0.3 s without recording (08, 3rd call).
"""

from __future__ import annotations

from esl_apps.sim import templates as T
from esl_apps.sim.recording import start_recording, stop_recording
from esl_apps.sim.session import AppContext, application

STORAGE = "/var/lib/freeswitch/storage/voicemail"
GREETING_S = 3.0
INSTRUCTIONS_S = 2.0
BEEP_S = 1.0
SILENCE_S = 3.0
MIN_MESSAGE_S = 3


def _hms(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


@application("voicemail")
async def voicemail_app(ctx: AppContext) -> None:
    words = ctx.arg.split()
    if (words and words[0] == "check") or len(words) < 3:
        await ctx.session.wait(ctx.emu.prompt_s)  # mailbox login: not emulated beyond a prompt
        return
    profile, domain, user = words[0], words[1], words[2]
    session, ch, emu = ctx.session, ctx.ch, ctx.emu
    emu.answer(ch)
    skip_greeting = ch.vars.get("skip_greeting") == "true"
    skip_instructions = ch.vars.get("skip_instructions") == "true"
    if emu.voicemail_prompts_missing and not (skip_greeting and skip_instructions):
        await session.wait(0.3)
        return
    lead = (0 if skip_greeting else GREETING_S) + (0 if skip_instructions else INSTRUCTIONS_S) + BEEP_S
    if await session.wait(lead) == "hangup":
        return
    ch.set_var("skip_greeting", None)
    ch.set_var("skip_instructions", None)
    ch.set_var("silence_hits_exhausted", "false")
    path = f"{STORAGE}/{profile}/{domain}/{user}/msg_{emu.new_uuid()}.wav"
    rec = start_recording(emu, ch, path, kind="voicemail")
    ch.fire("RECORD_START", after=[("Record-File-Path", path)], calling=T.CALLING_VM_RECORD["RECORD_START"])
    party_audio = emu.caller_audio_s(ch)
    await session.wait(party_audio + SILENCE_S)
    ch.set_var("record_record_file_size", None)
    stop_recording(emu, ch, rec, calling=T.CALLING_VM_RECORD["RECORD_STOP"], completion_header=False)
    size = ch.vars.get("record_file_size", "0")
    ch.set_var("record_record_file_size", size)
    ch.set_var("record_file_size", size)
    seconds = int(rec.stop - rec.start) if rec.stop is not None else 0
    if seconds < MIN_MESSAGE_S:
        return
    ch.fire("CUSTOM", subclass="vm::maintenance", calling=T.CALLING["CUSTOM"], before=[
        ("VM-Action", "leave-message"), ("VM-User", user), ("VM-Domain", domain),
        ("VM-Caller-ID-Name", ch.profile.get("Caller-ID-Name", "")),
        ("VM-Caller-ID-Number", ch.profile.get("Caller-ID-Number", "")), ("VM-File-Path", path),
        ("VM-Flags", "B_NORMAL"), ("VM-Folder", "inbox"), ("VM-UUID", ch.uuid),
        ("VM-Message-Len", str(seconds)), ("VM-Timestamp", str(int(emu.clock.now()))),
    ])
    emu.voicemails.append({"user": user, "domain": domain, "path": path, "seconds": seconds,
                           "caller": ch.profile.get("Caller-ID-Number", ""), "uuid": ch.uuid})
    ch.set_vars([("voicemail_account", user), ("voicemail_domain", domain), ("voicemail_file_path", path),
                 ("voicemail_read_flags", "B_NORMAL"),
                 ("voicemail_message_len", _hms(seconds))])
    if ch.up:
        await session.wait(emu.prompt_s)  # "your message has been saved, goodbye"
