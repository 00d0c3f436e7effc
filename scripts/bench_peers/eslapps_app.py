#!/usr/bin/env python3
"""The benchmark flow on esl-apps: OutboundServer + FreeSwitchCall (asyncio)."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import flow

from esl_apps.call import BridgeTarget
from esl_apps.esl.fscall import FreeSwitchCall
from esl_apps.esl.outbound import OutboundServer, OutboundSession

TARGET = BridgeTarget(flow.AGENT, timeout_s=flow.AGENT_TIMEOUT_S)


async def handler(session: OutboundSession) -> None:
    flow.on_call()
    call = FreeSwitchCall(session)
    await call.answer()
    await call.play(flow.WELCOME)
    lo, hi, tries, timeout_ms, terminators = flow.COLLECT
    await call.collect(
        flow.MENU, min_digits=lo, max_digits=hi, tries=tries, timeout_ms=timeout_ms,
        terminators=terminators, regex=flow.DIGITS_REGEX, invalid_prompt=flow.INVALID,
        variable=flow.DIGITS_VAR,
    )
    await call.play(flow.THANKS)
    await call.bridge([TARGET])
    await call.hangup()


async def main() -> None:
    args = flow.parse_args(__doc__ or "")
    flow.raise_fd_limit()
    logging.basicConfig(level=logging.WARNING)
    server = OutboundServer(handler, args.host, args.port, max_calls=args.max_calls)
    await server.start()
    flow.ready(server.port)
    await server.serve_forever()


if __name__ == "__main__":
    flow.exit_on_sigterm()
    asyncio.run(main())
