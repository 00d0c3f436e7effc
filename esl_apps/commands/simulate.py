"""``esl-apps simulate``: one call through the IVR, on this machine, with no FreeSWITCH or Redis.

The FreeSWITCH emulator, the outbound ESL server and the flow engine run in-process; the caller
keys ``--digits`` (one entry per prompt), agents behave as ``--agent`` says, and the command prints
the path the call took, the prompts, the digits, who rang, the consent decision and recordings.

Exit codes: 0 the call ran through a flow, 1 the flow failed (the dialplan fallback would have
taken the call), 2 bad configuration or arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from typing import Any, TextIO

from esl_apps.commands._common import add_config_arguments
from esl_apps.commands._runtime import setup_logging
from esl_apps.commands._simulation import (
    AGENT_MODES,
    SimulationResult,
    agent_behaviours,
    did_zone,
    parse_at,
    parse_digits,
    run_simulation,
)
from esl_apps.config import ConfigError, load_config

EXIT_OK, EXIT_FLOW_FAILED, EXIT_CONFIG = 0, 1, 2


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="run one simulated call through the IVR (no FreeSWITCH or Redis needed)",
        description=(
            "Place one call into an in-process FreeSWITCH emulator whose dialplan hands it to the IVR over "
            "the real event-socket protocol, and print the path taken, prompts, digits, agents rung, the "
            "consent decision and recordings. Exit status: 0 ok, 1 the flow failed, 2 bad input."
        ),
        epilog=(
            "examples:\n"
            "  esl-apps simulate --digits 1\n"
            "  esl-apps simulate --at 2026-11-23T20:00 --digits 1\n"
            "  esl-apps simulate --did +442071234568 --digits 1,1,12345678# --agent dave=busy\n"
            "  esl-apps simulate --digits ,3,1,4111111111111111#,0530,737 --json"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config_arguments(parser)
    parser.add_argument("--did", default=None, help="the number dialled (default: the first DID in pbx.yaml)")
    parser.add_argument(
        "--digits",
        default="",
        help="what the caller keys, one comma-separated entry per prompt; an empty entry lets it time out "
        "(e.g. '1,4#' or ',2')",
    )
    parser.add_argument(
        "--caller", default="+441632960001", help="the caller's number (default +441632960001)"
    )
    parser.add_argument(
        "--at",
        default=None,
        help="when the call happens, ISO 8601 (e.g. 2026-11-23T20:00); without an offset it is local time "
        "of the DID's business-hours schedule (default: now)",
    )
    parser.add_argument(
        "--agent",
        action="append",
        default=[],
        metavar="ID=MODE",
        help=f"how an agent's phone behaves: {', '.join(AGENT_MODES)} (repeatable; default answer)",
    )
    parser.add_argument("--hangup-after", type=float, default=None, help="caller hangs up N s after answer")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON document")
    parser.add_argument("--verbose", action="store_true", help="also print the engine's log lines (stderr)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    if args.verbose:
        setup_logging("INFO", json_lines=True)
    try:
        config = load_config(args.conf, args.flows)
    except ConfigError as exc:
        for issue in exc.errors:
            print(issue, file=sys.stderr)
        return EXIT_CONFIG
    try:
        digits = parse_digits(args.digits)
        at = parse_at(args.at, did_zone(config, args.did))
        agents = agent_behaviours(args.agent, [a.id for a in config.pbx.agents])
    except ValueError as exc:
        print(f"esl-apps simulate: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    quiet = not args.verbose
    if quiet:  # the report is the output; log lines would only interleave with it (restored below)
        previous = logging.root.manager.disable
        logging.disable(logging.CRITICAL)
    try:
        result = asyncio.run(
            run_simulation(
                config,
                did=args.did,
                caller=args.caller,
                digits=digits,
                at=at,
                agents=agents,
                hangup_after_s=args.hangup_after,
            )
        )
    except ValueError as exc:
        print(f"esl-apps simulate: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    finally:
        if quiet:
            logging.disable(previous)
    if args.json:
        json.dump(as_json(result), out, indent=2, default=str)
        out.write("\n")
    else:
        out.write(format_result(result))
    return EXIT_FLOW_FAILED if result.error or result.trace.get("end") in ("error", "not run") else EXIT_OK


def as_json(result: SimulationResult) -> dict[str, Any]:
    return {
        "did": result.did,
        "caller": result.caller,
        "at": result.at.isoformat(),
        "path": result.trace.get("path", []),
        "end": result.trace.get("end"),
        "trace": result.trace,
        "consent": result.records.get("consent", []),
        "callbacks": result.records.get("callbacks", []),
        "apps": [{"app": a, "arg": arg, "response": r} for a, arg, r in result.apps],
        "rang": [{"endpoint": e, "outcome": o} for e, o in result.rang],
        "recordings": result.recordings,
        "hangup_cause": result.hangup_cause,
        "error": result.error,
        "workdir": str(result.workdir),
    }


def _short(text: str, limit: int = 70) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def format_result(result: SimulationResult) -> str:
    trace = result.trace
    lines = [
        f"Call {trace.get('call_uuid')} from {result.caller} to {result.did} at {result.at.isoformat()}",
        f"Flow: {trace.get('flow') or '-'}",
        f"Path: {' -> '.join(trace.get('path', [])) or '(none)'}",
        "",
        "Steps:",
    ]
    for step in trace.get("steps", []):
        node = step["node"] if step["flow"] == trace.get("flow") else f"{step['flow']}:{step['node']}"
        lines.append(f"  {node:<18} {step['type']:<13} -> {step['outcome']}")
        for prompt in step.get("prompts", []):
            lines.append(f"      prompt  {_short(prompt)}")
        if step.get("digits"):
            lines.append(f"      digits  {step['digits']}")
        detail = step.get("detail", {})
        for key in ("attempts", "extension", "box", "group", "queue", "answered_by", "holiday", "local_time"):
            if key in detail and detail[key] not in (None, [], ""):
                lines.append(f"      {key:<7} {detail[key]}")
    consent = result.records.get("consent", [])
    lines.append("")
    if consent:
        c = consent[0]
        lines.append(
            f"Consent: policy {c['policy']}, decision {c['decision']} (digit {c['digit']}), "
            f"recording {c['recording']}"
        )
    else:
        lines.append("Consent: no consent node on this path")
    if result.rang:
        lines.append("Agents rung: " + ", ".join(f"{e} ({o})" for e, o in result.rang))
    for rec in result.recordings:
        masks = ", ".join(
            f"{m[0]:.1f}-{m[1]:.1f}s" if m[1] is not None else f"{m[0]:.1f}s-" for m in rec["masks"]
        )
        lines.append(f"Recording: {rec['path']}" + (f" (masked {masks})" if masks else ""))
    for span in trace.get("mask_spans", []):
        lines.append(f"PCI mask: node {span['node']} {span['start']} -> {span['end']} ({span['closed_by']})")
    for cb in result.records.get("callbacks", []):
        lines.append(f"Callback requested: {cb['number']} (group {cb['group']})")
    lines.append(f"Ended: {trace.get('end')} at {trace.get('end_node')}; hangup cause {result.hangup_cause}")
    if result.error or trace.get("error"):
        lines.append(f"Error: {trace.get('error') or result.error}")
    lines.append(f"Files: {result.workdir}")
    return "\n".join(lines) + "\n"
