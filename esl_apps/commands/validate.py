"""``esl-apps validate``: check conf/ and ivr_flows/ and list every problem as file:line:column.

Exit codes: 0 the configuration is valid (warnings may be printed), 2 it has errors. The output
is one line per issue, compiler style, so editors and CI annotate the right line.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TextIO

from esl_apps.commands._common import add_config_arguments
from esl_apps.config import Config, ConfigError, ConfigIssue, load_config

EXIT_OK = 0
EXIT_INVALID = 2


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check the YAML configuration and report every error with file:line:column",
        description=(
            "Load conf/pbx.yaml, conf/dispositions.yaml and ivr_flows/*.yaml, check every key and every "
            "reference between them, and print each problem as 'file:line:column: key.path: message'. "
            "Exit status: 0 valid (warnings allowed), 2 errors found."
        ),
    )
    add_config_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    parser.set_defaults(func=run)


def format_issue(issue: ConfigIssue) -> str:
    if issue.severity == "warning":
        return f"{issue.file}:{issue.line}:{issue.column}: {issue.key_path}: warning: {issue.message}"
    return str(issue)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _summary(config: Config) -> str:
    pbx = config.pbx
    return (
        f"OK: {_plural(len(config.files), 'file')} checked: {_plural(len(pbx.agents), 'agent')}, "
        f"{_plural(len(pbx.ring_groups), 'ring group')}, {_plural(len(pbx.queues), 'queue')}, "
        f"{_plural(len(pbx.dids), 'DID')}, {_plural(len(config.flows), 'flow')}, "
        f"{_plural(len(config.dispositions.codes), 'disposition code')}; "
        f"{_plural(len(config.warnings), 'warning')}"
    )


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    try:
        config = load_config(args.conf, args.flows)
    except ConfigError as exc:
        errors, warnings = exc.errors, exc.warnings
        if args.json:
            json.dump(
                {
                    "ok": False,
                    "errors": len(errors),
                    "warnings": len(warnings),
                    "issues": [issue.as_dict() for issue in exc.issues],
                },
                out,
                indent=2,
            )
            out.write("\n")
        else:
            for issue in exc.issues:
                out.write(format_issue(issue) + "\n")
            out.write(f"FAILED: {_plural(len(errors), 'error')}, {_plural(len(warnings), 'warning')}\n")
        return EXIT_INVALID
    except Exception as exc:  # never a traceback for an admin's input; report it as a failure
        out.write(
            f"FAILED: internal error while validating ({type(exc).__name__}: {exc}); please report it\n"
        )
        return EXIT_INVALID
    if args.json:
        json.dump(
            {
                "ok": True,
                "errors": 0,
                "warnings": len(config.warnings),
                "issues": [issue.as_dict() for issue in config.warnings],
                "files": list(config.files),
            },
            out,
            indent=2,
        )
        out.write("\n")
    else:
        for issue in config.warnings:
            out.write(format_issue(issue) + "\n")
        out.write(_summary(config) + "\n")
    return EXIT_OK
