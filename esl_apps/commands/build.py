"""``esl-apps build``: generate the FreeSWITCH dialplan from the YAML, check it, or reload it.

Exit codes: 0 done (or ``--check``: up to date); 1 ``--check`` found differences, or FreeSWITCH
rejected ``reloadxml``; 2 configuration/template errors (nothing written) or an output directory
that cannot be written; 3 FreeSWITCH's event socket could not be reached (or refused the
password). The unified diff of ``--check`` goes to stdout, so
``esl-apps build --check --out DIR > change.diff`` captures just the diff.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from esl_apps.commands._common import add_config_arguments
from esl_apps.commands.validate import format_issue
from esl_apps.config import Config, ConfigError, load_config
from esl_apps.config.settings import SecretUnavailable
from esl_apps.dialplan import BuildError, build_dialplan
from esl_apps.dialplan.reload import EslUnavailable, ReloadFailed, reloadxml
from esl_apps.dialplan.render import overridden
from esl_apps.dialplan.writer import unified_diff

EXIT_OK = 0
EXIT_DIFFERS = 1  # --check found differences; also --reload rejected by FreeSWITCH
EXIT_INVALID = 2
EXIT_UNREACHABLE = 3


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "build",
        help="generate the FreeSWITCH XML dialplan from the YAML (--check: diff only; --reload: reloadxml)",
        description=(
            "Render the dialplan templates for conf/pbx.yaml and ivr_flows/ into "
            "OUT/<context>/NN_esl_apps_*.xml (drop-in include files for "
            "/etc/freeswitch/dialplan/<context>/). Only changed files are rewritten, atomically. "
            "Exit status: 0 ok / up to date, 1 --check found differences or reloadxml failed, "
            "2 configuration or template errors (nothing written), 3 FreeSWITCH unreachable."
        ),
    )
    add_config_arguments(parser)
    parser.add_argument(
        "--templates",
        type=Path,
        default=None,
        help="directory of modified *.xml.j2 templates; a template not found there is the shipped one",
    )
    parser.add_argument(
        "--out",
        type=Path,
        required=True,
        help="output directory: one sub-directory per context, e.g. /etc/freeswitch/dialplan",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--check",
        action="store_true",
        help="write nothing; print a unified diff and exit 1 if OUT differs from what would be built",
    )
    mode.add_argument(
        "--reload",
        action="store_true",
        help="after writing, run reloadxml over ESL (pbx.yaml esl:) and fail on a parse error",
    )
    parser.add_argument("--quiet", "-q", action="store_true", help="print errors only")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr

    def say(text: str) -> None:
        if not args.quiet:
            # With --check stdout is reserved for the diff.
            (err if args.check else out).write(text + "\n")

    try:
        config = load_config(args.conf, args.flows)
    except ConfigError as exc:
        for issue in exc.issues:
            out.write(format_issue(issue) + "\n")
        out.write(f"FAILED: {len(exc.errors)} configuration error(s); nothing written\n")
        return EXIT_INVALID
    for issue in config.warnings:
        err.write(format_issue(issue) + "\n")
    used, unused = overridden(args.templates)
    for name in used:
        say(f"template {name} from {args.templates}")
    for name in unused:
        err.write(f"warning: {args.templates}/{name} is not a template esl-apps uses; ignored\n")

    try:
        result = build_dialplan(config, args.out, args.templates, check=args.check)
    except BuildError as exc:
        for issue in exc.issues:
            out.write(format_issue(issue) + "\n")
        for problem in exc.problems:
            out.write(f"error: {problem}\n")
        out.write("FAILED: the dialplan was not generated; nothing written\n")
        return EXIT_INVALID
    except OSError as exc:
        err.write(f"FAILED: cannot write {args.out}: {exc}\n")
        return EXIT_INVALID
    except Exception as exc:  # a bug, not the admin's input: say so instead of a traceback
        err.write(f"FAILED: internal error while building ({type(exc).__name__}: {exc}); please report it\n")
        return EXIT_INVALID

    plan = result.plan
    if args.check:
        if plan.clean:
            say(f"up to date: {len(plan.unchanged)} file(s) in {args.out}")
            return EXIT_OK
        out.write(unified_diff(plan))
        summary = ", ".join(f"{c.kind} {c.relpath}" for c in plan.changes)
        err.write(f"differs: {summary}\n")
        return EXIT_DIFFERS

    for change in plan.changes:
        verb = {"create": "created", "update": "updated", "delete": "removed"}[change.kind]
        say(f"{verb} {args.out / change.relpath}")
    model = result.rendered.model
    say(
        f"OK: {len(plan.changes)} file(s) changed, {len(plan.unchanged)} unchanged in {args.out} "
        f"({len(model.dids)} DIDs, {len(model.groups)} ring groups, {len(model.agents)} agents, "
        f"{len(model.features)} feature codes, wrap-up {model.wrapup.number})"
    )
    if args.reload:
        return _reload(config, err, say)
    return EXIT_OK


def _reload(config: Config, err: TextIO, say: Callable[[str], None]) -> int:
    esl = config.pbx.esl
    try:
        password = esl.password()
    except SecretUnavailable as exc:
        err.write(f"FAILED: reloadxml: no ESL password: {exc}\n")
        return EXIT_INVALID
    try:
        result = reloadxml(esl.host, esl.port, password, timeout=esl.connect_timeout)
    except ReloadFailed as exc:
        err.write(f"FAILED: {exc} (FreeSWITCH keeps the previous XML)\n")
        return EXIT_DIFFERS
    except EslUnavailable as exc:
        err.write(f"FAILED: reloadxml: {exc}\n")
        return EXIT_UNREACHABLE
    say(f"reloadxml: {result.reply.strip()}")
    return EXIT_OK
