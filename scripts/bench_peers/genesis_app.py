#!/usr/bin/env python3
"""The benchmark flow on genesis (asyncio), written the way its documentation shows.

Outbound(handler) sends connect, `filter Unique-ID <uuid>`, `event plain all` and linger; the handler
drives session.channel (answer() returns on +OK; playback and play_and_get_digits block on the
CHANNEL_EXECUTE_COMPLETE matched by Application-UUID). Channel.bridge() only bridges to another
channel's uuid, so the dial-string bridge (and the `set`) go through session.sendmsg(block=True).
hangup() executes the `hangup` application; the session closes the socket when the handler returns.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

from genesis import Outbound, Session

sys.path.insert(0, str(Path(__file__).resolve().parent))
import flow


async def handler(session: Session) -> None:
    flow.on_call()
    ch = session.channel
    assert ch is not None
    await ch.answer()
    await ch.playback(flow.WELCOME)
    lo, hi, tries, timeout_ms, terminators = flow.COLLECT
    await ch.play_and_get_digits(
        tries=tries, timeout=timeout_ms, terminators=terminators, file=flow.MENU, minimal=lo,
        maximum=hi, regexp=flow.DIGITS_REGEX, var_name=flow.DIGITS_VAR, invalid_file=flow.INVALID,
    )
    await ch.playback(flow.THANKS)
    await session.sendmsg("execute", "set", "continue_on_fail=true", block=True)
    await session.sendmsg("execute", "bridge", flow.DIAL_STRING, block=True)
    await ch.hangup()


async def main() -> None:
    args = flow.parse_args(__doc__ or "")
    flow.raise_fd_limit()
    logging.basicConfig(level=logging.WARNING)
    app = Outbound(handler, args.host, args.port)
    await app.start(block=False)
    assert app.server is not None
    flow.ready(app.server.sockets[0].getsockname()[1])
    await app.server.serve_forever()


if __name__ == "__main__":
    flow.exit_on_sigterm()
    asyncio.run(main())
