"""The inbound ESL listener (FreeSWITCH's port 8021): auth, api, bgapi, events, filters (trace 07).

A client is greeted with ``auth/request``; before ``auth`` every command gets ``-ERR command not
found`` and the connection stays; a wrong password gets ``-ERR invalid``, a disconnect notice and
the close. ``inbound_password=None`` accepts any password (tests that do not care).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from esl_apps.esl.protocol import Command, auth_request_bytes
from esl_apps.sim.esl_conn import EslConnection

if TYPE_CHECKING:
    from esl_apps.sim.emulator import Emulator

log = logging.getLogger(__name__)


class InboundConnection(EslConnection):
    def __init__(self, emu: Emulator, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        super().__init__(emu, reader, writer)
        self.authed = False

    async def serve(self) -> None:
        self.emu.bus_subscribe(self)
        self.write(auth_request_bytes(), self.note("auth", "auth/request"))
        try:
            await self.read_commands()
        finally:
            await self.close()

    async def handle(self, cmd: Command) -> bool:
        name = cmd.name
        if name == "exit" or name.startswith("..."):
            result = await self.handle_common(cmd, session_uuid=None)
            return bool(result)
        if not self.authed:
            if name == "auth" and cmd.args:
                expected = self.emu.inbound_password
                if expected is None or cmd.args.strip("\r") == expected:
                    self.authed = True
                    self.reply("+OK accepted")
                    return True
                self.reply("-ERR invalid")
                self.disconnect(None)
                await self.close()
                return False
            self.reply("-ERR command not found")
            return True
        if name == "sendmsg":
            target = cmd.args.strip() or cmd.get("session-id") or ""
            session = self.emu.sessions.get(target) if target else None
            if session is None:
                self.reply(f"-ERR invalid session id [{target}]")
                return True
            item = self.emu.sendmsg_item(session, cmd)
            self.reply("+OK")
            if item is not None:
                session.enqueue(item)
            return True
        if name == "myevents" and cmd.args.strip():
            uuid = cmd.args.split()[0]
            if uuid not in self.emu.sessions:
                self.reply("-ERR invalid uuid" if len(cmd.args.split()) > 1 else "+OK Events Enabled")
                return True
            from esl_apps.sim.esl_conn import MYEVENTS

            self.myevents_uuid = uuid
            self.event_list |= MYEVENTS
            self.events_on = True
            self.emu.bus_scope(self, uuid)
            self.reply("+OK Events Enabled")
            return True
        if name in ("linger", "nolinger"):
            self.reply("-ERR not controlling a session")
            return True
        result = await self.handle_common(cmd, session_uuid=None)
        if result is None:
            self.reply("-ERR command not found")
            return True
        return result


class InboundServer:
    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        self.server: asyncio.base_events.Server | None = None
        self.connections: set[InboundConnection] = set()

    async def start(self, host: str, port: int) -> int:
        self.server = await asyncio.start_server(self._accept, host, port, reuse_address=True)
        return self.server.sockets[0].getsockname()[1]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = InboundConnection(self.emu, reader, writer)
        self.connections.add(conn)
        try:
            await conn.serve()
        finally:
            self.connections.discard(conn)

    async def stop(self) -> None:
        if self.server is None:
            return
        self.server.close()
        for conn in list(self.connections):
            await conn.close()
        await self.server.wait_closed()
        self.server = None
