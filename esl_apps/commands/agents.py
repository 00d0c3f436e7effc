"""``esl-apps agents``: see and change agent state (the same state the ring groups use).

Supervisors use it to log agents in and out, pause them with a reason, or see who is free.
Agents do the same from their phones with feature codes. Agent ids are checked against the
configuration so that a typo can't create a phantom agent.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from esl_apps.features.agents import AgentState

EXIT_BAD_INPUT, EXIT_UNREACHABLE = 2, 3


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "agents",
        help="list agents' state; log in, log out, pause or unpause agents",
        description="Agent state shared by every node through Redis.",
    )
    parser.add_argument("--conf", help="configuration directory (default: the shipped example)")
    parser.add_argument("--redis", help="Redis URL (overrides the configuration)")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="every configured agent with state, calls and reservation")
    listing.add_argument("--group", help="only the members of this ring group")
    listing.add_argument("--json", action="store_true", help="one JSON object per agent")
    for name, text in (("login", "log agents in (available)"), ("logout", "log agents out"),
                       ("unpause", "make paused agents available")):
        sub = actions.add_parser(name, help=text)
        sub.add_argument("agent_ids", nargs="+", metavar="AGENT")
    pause = actions.add_parser("pause", help="pause agents with a reason code")
    pause.add_argument("agent_ids", nargs="+", metavar="AGENT")
    pause.add_argument("--reason", default="break", help="reason code shown in listings (default: break)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from esl_apps.config import ConfigError, load_config

    try:
        config = load_config(Path(args.conf) if args.conf else None)
    except ConfigError as exc:
        for issue in exc.issues:
            print(issue, file=sys.stderr)
        return EXIT_BAD_INPUT
    pbx = config.pbx
    known = [a.id for a in pbx.agents]
    if args.action == "list":
        if args.group is not None and args.group not in pbx.ring_groups:
            print(f"esl-apps agents: no ring group {args.group!r} (have: {', '.join(pbx.ring_groups)})",
                  file=sys.stderr)
            return EXIT_BAD_INPUT
        ids = [m.agent for m in pbx.members_of(args.group)] if args.group else known
    else:
        unknown = [a for a in args.agent_ids if a not in known]
        if unknown:
            print(f"esl-apps agents: unknown agent(s) {', '.join(unknown)} (configured: {', '.join(known)})",
                  file=sys.stderr)
            return EXIT_BAD_INPUT
        ids = list(dict.fromkeys(args.agent_ids))
    return asyncio.run(_apply(args, pbx, ids))


async def _apply(args: argparse.Namespace, pbx: Any, ids: list[str]) -> int:
    from redis.exceptions import RedisError

    from esl_apps.config.settings import SecretUnavailable
    from esl_apps.features.agents import AgentStore
    from esl_apps.store.factory import redis_from_settings

    try:
        client = redis_from_settings(pbx.redis, args.redis)
    except SecretUnavailable as exc:  # a missing password file or variable: a configuration problem
        print(f"esl-apps agents: redis settings: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    store = AgentStore(client, pbx.redis.key_prefix)
    try:
        if args.action == "list":
            states = await store.list(ids)
            _print(states, as_json=args.json)
            return 0
        for agent_id in ids:
            if args.action == "login":
                state = await store.login(agent_id)
            elif args.action == "logout":
                state = await store.logout(agent_id)
            elif args.action == "pause":
                state = await store.pause(agent_id, args.reason)
            else:
                state = await store.unpause(agent_id)
            note = f" (then {state.pending} when the call ends)" if state.pending else ""
            print(f"{agent_id}: {_status(state)}{note}")
        return 0
    except (RedisError, OSError) as exc:
        print(f"esl-apps agents: Redis is unreachable ({exc})", file=sys.stderr)
        return EXIT_UNREACHABLE
    finally:
        await client.aclose()


def _status(state: AgentState) -> str:
    text = state.status.value
    if state.reason:
        text += f" ({state.reason})"
    if state.wrapup_until_ms:
        text += f" {max(0, state.wrapup_until_ms - state.as_of_ms) // 1000}s left"
    if state.reserved_by is not None:
        text += f", ringing for {state.reserved_by.group}"
    return text


def _ago(ms: int, now_ms: int) -> str:
    if not ms:
        return "never"
    seconds = max(0, now_ms - ms) // 1000
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds // 60 % 60:02d}m ago"
    return f"{seconds // 60}m{seconds % 60:02d}s ago"


def _print(states: list[AgentState], *, as_json: bool) -> None:
    if as_json:
        for s in states:
            row = {
                "agent": s.agent_id, "status": s.status.value, "reason": s.reason, "pending": s.pending,
                "calls_taken": s.calls_taken, "calls_today": s.calls_today,
                "calls_this_week": s.calls_this_week,
                "last_call_end_ms": s.last_call_end_ms, "talk_time_s": s.talk_time_s,
                "consecutive_no_answers": s.consecutive_no_answers, "wrapup_until_ms": s.wrapup_until_ms,
                "reserved_by": None if s.reserved_by is None else {
                    "owner": s.reserved_by.owner, "call_uuid": s.reserved_by.call_uuid,
                    "group": s.reserved_by.group, "expires_ms": s.reserved_by.expires_ms,
                },
            }
            print(json.dumps(row, separators=(",", ":")))
        return
    now = states[0].as_of_ms if states else int(time.time() * 1000)
    header = ("AGENT", "STATE", "CALLS TODAY", "LAST CALL END", "TALK", "MISSED")
    rows = [
        (s.agent_id, _status(s), str(s.calls_today), _ago(s.last_call_end_ms, now),
         f"{int(s.talk_time_s) // 60}m", str(s.consecutive_no_answers))
        for s in states
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
