"""``api`` / ``bgapi`` commands (mod_commands), with the exact reply texts of FreeSWITCH 1.11.

Replies come from the traces where they were recorded (uuid_exists has no newline, uuid_kill
``+OK\\n``, unknown uuid ``-ERR No such channel!\\n``, unknown command ``-ERR <cmd> Command not
found!\\n``...) and from mod_commands.c otherwise (usage strings, uuid_bridge, uuid_record).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from esl_apps.sim import dialstring, recording
from esl_apps.sim.channel import EmittedEvent, core_headers
from esl_apps.sim.legs import Ringer
from esl_apps.sim.originate import loopback_originate, originate_program

if TYPE_CHECKING:
    from esl_apps.sim.emulator import Emulator
    from esl_apps.sim.esl_conn import EslConnection
    from esl_apps.sim.session import ChannelSession

log = logging.getLogger(__name__)

USAGE = {
    "uuid_kill": "<uuid> [cause]",
    "uuid_transfer": "<uuid> [-bleg|-both] <dest-exten> [<dialplan>] [<context>]",
    "uuid_getvar": "<uuid> <var>", "uuid_setvar": "<uuid> <var> [value]",
    "uuid_bridge": "<uuid> <other_uuid>",
    "uuid_record": "<uuid> [start|stop|mask|unmask] <path> [<limit>] [<recording_vars>]",
    "uuid_break": "<uuid> [all]", "uuid_send_dtmf": "<uuid> <dtmf_data>", "uuid_answer": "<uuid>",
    "uuid_setvar_multi": "<uuid> <var>=<value>;<var>=<value>...",
    "originate": "<call url> <exten>|&<application_name>(<app_args>) [<dialplan>] [<context>] [<cid_name>] "
                 "[<cid_num>] [<timeout_sec>]",
    "uuid_broadcast": "<uuid> <path> [aleg|bleg|holdb|both]",
}


def usage(name: str) -> str:
    return f"-USAGE: {USAGE[name]}\n"


class Api:
    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        self.global_vars: dict[str, str] = {"hostname": "fs-lab", "domain": "127.0.0.1"}

    def _session(self, uuid: str) -> ChannelSession | None:
        return self.emu.sessions.get(uuid.strip())

    async def execute(self, line: str, conn: EslConnection | None = None) -> str:
        name, _, arg = line.strip().partition(" ")
        handler = getattr(self, "cmd_" + name, None)
        if handler is None:
            return f"-ERR {name} Command not found!\n"
        result = handler(arg.strip())
        if asyncio.iscoroutine(result):
            result = await result
        return str(result)

    def background(self, line: str, job_uuid: str, owner: str | None, conn: EslConnection | None) -> None:
        async def job() -> None:
            body = await self.execute(line, conn)
            name, _, arg = line.strip().partition(" ")
            headers = core_headers("BACKGROUND_JOB", self.emu.core_uuid, self.emu.clock.uepoch(),
                                   self.emu.next_sequence())
            headers.append(("Job-UUID", job_uuid))
            if owner:
                headers.append(("Job-Owner-UUID", owner))
            headers.append(("Job-Command", name))
            if arg:
                headers.append(("Job-Command-Arg", arg))
            body = body or "Command returned no output!"
            self.emu.publish(EmittedEvent("BACKGROUND_JOB", tuple(headers), body))

        self.emu.track(asyncio.ensure_future(job()))

    # -- general -----------------------------------------------------------------------------------
    def cmd_status(self, arg: str) -> str:
        up = max(0, int(self.emu.clock.elapsed()))
        live = len(self.emu.sessions)
        return (f"UP 0 years, 0 days, {up // 3600} hours, {up // 60 % 60} minutes, {up % 60} seconds, "
                "0 milliseconds, 0 microseconds\n"
                "FreeSWITCH (Version 1.11.3-dev emulated 64bit) is ready\n"
                f"{self.emu.sessions_since_start} session(s) since startup\n"
                f"{live} session(s) - peak {live}, last 5min {live} \n"
                "0 session(s) per Sec out of max 30, peak 0, last 5min 0 \n"
                "1000 session(s) max\nmin idle cpu 0.00/99.00\nCurrent Stack Size/Max 240K/8192K\n")

    def cmd_version(self, arg: str) -> str:
        return "FreeSWITCH Version 1.11.3-dev (emulated)\n"

    def cmd_reloadxml(self, arg: str) -> str:
        self.emu.reload_xml()
        return "+OK [Success]\n"

    def cmd_echo(self, arg: str) -> str:
        return arg

    def cmd_global_getvar(self, arg: str) -> str:
        return self.global_vars.get(arg, "")

    def cmd_global_setvar(self, arg: str) -> str:
        name, _, value = arg.partition("=")
        self.global_vars[name.strip()] = value
        return "+OK\n"

    def cmd_show(self, arg: str) -> str:
        words = arg.split()
        if not words:
            return "-USAGE: calls|channels [count]\n"
        sessions = list(self.emu.sessions.values())
        if words[0] in ("calls", "bridged_calls"):
            count = sum(1 for s in sessions if s.ch.direction == "inbound" or s.ch.bridged_to is None)
            if words[0] == "bridged_calls":
                count = sum(1 for s in sessions if s.ch.bridged_to and s.ch.direction == "inbound")
        else:
            count = len(sessions)
        if words[-1] == "count":
            return f"\n{count} total.\n"
        rows = [f"{s.ch.uuid},{s.ch.direction},{s.ch.name},{s.ch.running_state}" for s in sessions]
        return "uuid,direction,name,state\n" + "".join(r + "\n" for r in rows) + f"\n{count} total.\n"

    def cmd_hupall(self, arg: str) -> str:
        cause = arg.split()[0] if arg.split() else "MANAGER_REQUEST"
        for session in list(self.emu.sessions.values()):
            self.emu.hangup(session.ch, cause, remote=False)
        return f"+OK hangup all channels with cause {cause}\n"

    # -- channels ----------------------------------------------------------------------------------
    def cmd_uuid_exists(self, arg: str) -> str:
        return "true" if arg and self._session(arg) is not None else "false"

    def cmd_uuid_getvar(self, arg: str) -> str:
        words = arg.split()
        if len(words) < 2:
            return usage("uuid_getvar")
        session = self._session(words[0])
        if session is None:
            return "-ERR No such channel!\n"
        value = session.ch.vars.get(words[1])
        return value if value is not None else "_undef_"

    def cmd_uuid_setvar(self, arg: str) -> str:
        words = arg.split(" ", 2)
        if len(words) < 2:
            return usage("uuid_setvar")
        session = self._session(words[0])
        if session is None:
            return "-ERR No such channel!\n"
        session.ch.set_var(words[1], words[2] if len(words) > 2 else None)
        return "+OK\n"

    def cmd_uuid_setvar_multi(self, arg: str) -> str:
        uuid, _, assignments = arg.partition(" ")
        session = self._session(uuid)
        if not assignments:
            return usage("uuid_setvar_multi")
        if session is None:
            return "-ERR No such channel!\n"
        for item in assignments.split(";"):
            name, _, value = item.partition("=")
            if name:
                session.ch.set_var(name, value or None)
        return "+OK\n"

    def cmd_uuid_dump(self, arg: str) -> str:
        session = self._session(arg.split()[0] if arg.split() else "")
        if session is None:
            return "-ERR No such channel!\n"
        return "".join(f"{k}: {v}\n" for k, v in session.ch.channel_data_headers())

    def cmd_uuid_kill(self, arg: str) -> str:
        if not arg:
            return usage("uuid_kill")
        uuid, _, cause = arg.partition(" ")
        session = self._session(uuid)
        if session is None or not session.ch.up:
            return "-ERR No such channel!\n"
        self.emu.hangup(session.ch, cause.strip() or "NORMAL_CLEARING", remote=False)
        return "+OK\n"

    def cmd_uuid_answer(self, arg: str) -> str:
        session = self._session(arg)
        if session is None:
            return "-ERR No such channel!\n"
        self.emu.answer(session.ch)
        return "+OK\n"

    def cmd_uuid_break(self, arg: str) -> str:
        words = arg.split()
        if not words:
            return usage("uuid_break")
        session = self._session(words[0])
        if session is None:
            return "-ERR No such channel!\n"
        session.interrupt()
        return "+OK\n"

    def cmd_uuid_transfer(self, arg: str) -> str:
        words = arg.split()
        if len(words) < 2 or len(words) > 5:
            return usage("uuid_transfer")
        session = self._session(words[0])
        if session is None:
            return "-ERR No such channel!\n"
        if words[1].startswith("-"):
            words = [words[0], *words[2:]]
        destination = words[1]
        context = words[3] if len(words) > 3 else session.ch.profile.get("Context", "default")
        self.emu.transfer(session, destination, context)
        return "+OK\n"

    def cmd_uuid_bridge(self, arg: str) -> str:
        words = arg.split()
        if len(words) < 2:
            return usage("uuid_bridge")
        a, b = self._session(words[0]), self._session(words[1])
        if a is None or b is None or not a.ch.up or not b.ch.up or a is b:
            return "-ERR Invalid uuid\n"
        a.uuid_bridge_to, b.uuid_bridge_to = b, a
        a.uuid_bridge_role, b.uuid_bridge_role = "a", "b"
        for me, other in ((a, b), (b, a)):  # switch_ivr_uuid_bridge: both get the other's profile + history
            entry = f"{int(self.emu.clock.now())}:{self.emu.new_uuid()}:uuid_br:{other.ch.uuid}"
            history = me.ch.vars.get("transfer_history")
            me.ch.set_var("transfer_history", f"ARRAY::{history}|:{entry}" if history else entry)
        a.ch.other_profile, a.ch.other_type = dict(b.ch.profile), "originatee"
        b.ch.other_profile, b.ch.other_type = dict(a.ch.profile), "originator"
        a.wake.set()
        b.wake.set()
        return f"+OK {b.ch.uuid}\n"

    def cmd_uuid_record(self, arg: str) -> str:
        words = arg.split()
        if len(words) < 3:
            return usage("uuid_record")
        session = self._session(words[0])
        if session is None:
            return "-ERR Cannot locate session!\n"
        action, path, ch = words[1].lower(), words[2], session.ch
        if action == "start":
            recording.start_recording(self.emu, ch, path)
            ch.fire("RECORD_START", after=[("Record-File-Path", path)])
        elif action == "stop":
            found = [r for r in self.emu.active_recordings.get(ch.uuid, []) if path in (r.path, "all")]
            if not found:
                return "-ERR Cannot stop record session!\n"
            for rec in found:
                recording.stop_recording(self.emu, ch, rec)
        elif action in ("mask", "unmask"):
            if not recording.mask(self.emu, ch, path, action == "mask"):
                return f"-ERR Cannot {action} recording session!\n"
        else:
            return usage("uuid_record")
        return "+OK Success\n"

    def cmd_uuid_send_dtmf(self, arg: str) -> str:
        words = arg.split()
        if len(words) < 2:
            return usage("uuid_send_dtmf")
        session = self._session(words[0])
        if session is None:
            return "-ERR No such channel!\n"
        partner = session.loopback_partner
        if partner is not None:  # mod_loopback queues them on the other leg; its reader takes them next frame
            for digit in words[1]:
                self.emu.clock.call_later(0.02, self.emu.key, partner.ch, digit, "2000", "UNKNOWN")
        return f"+OK {words[0]} sent DTMF {words[1]}.\n"

    def cmd_uuid_broadcast(self, arg: str) -> str:
        words = arg.split()
        if len(words) < 2:
            return usage("uuid_broadcast")
        session = self._session(words[0])
        if session is None:
            return "-ERR No such channel!\n"
        from esl_apps.sim.session import QueuedExecute

        app, _, app_arg = words[1].partition("::")
        if not app_arg:
            app, app_arg = "playback", words[1]
        session.enqueue(QueuedExecute(app, app_arg, None))
        return "+OK Message sent successfully\n"

    # -- originate ---------------------------------------------------------------------------------
    async def cmd_originate(self, arg: str) -> str:
        words = [w for w in dialstring.split_top(arg.strip(), " ") if w]
        if len(words) < 2 or len(words) > 7:
            return usage("originate")
        words = [None if w == "undef" else w for w in words]  # type: ignore[misc]
        dial, target = words[0], words[1]
        context = words[3] if len(words) > 3 and words[3] else "default"
        cid_name = words[4] if len(words) > 4 else None
        cid_number = words[5] if len(words) > 5 else None
        timeout = float(words[6]) if len(words) > 6 and words[6] else 60.0
        if dial is None or target is None:
            return usage("originate")
        if dial.lstrip("{").split("}")[-1].startswith("loopback/"):
            return await loopback_originate(self.emu, dial, target, context)
        groups = dialstring.parse(dial)
        extra: dict[str, str] = {}
        if cid_name:
            extra["origination_caller_id_name"] = cid_name
        if cid_number:
            extra["origination_caller_id_number"] = cid_number
        for group in groups:
            group.variables.setdefault("originate_timeout", str(timeout))
            for leg in group.legs:
                for key, value in extra.items():
                    leg.variables.setdefault(key, value)
        ringer = Ringer(self.emu, None, None)
        result = await ringer.ring(groups)
        if result.answered is None or result.answered.session is None:
            return f"-ERR {result.disposition}\n"
        session = result.answered.session
        session.release_from_originate(originate_program(self.emu, session, target, context))
        return f"+OK {session.ch.uuid}\n"
