"""The ``esl-apps`` command: argument parsing and dispatch only.

Each sub-command lives in ``esl_apps/commands/<name>.py`` and exposes ``register(subparsers)``,
which adds its parser and sets ``func`` to a callable taking the parsed namespace and returning an
exit code. Keeping logic out of this file means a command can be tested by calling its function.

Exit codes shared by every command: 0 success, 1 the command ran and found a problem (for example
``build --check`` found a difference), 2 bad input (configuration errors, bad arguments), 3 an
external service (FreeSWITCH, Redis) could not be reached.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from esl_apps import __version__

# Order is the order shown in --help.
COMMAND_MODULES: tuple[str, ...] = (
    "validate",
    "build",
    "serve",
    "simulate",
    "agents",
    "callbacks",
    "dispositions",
    "report",
    "loadtest",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="esl-apps",
        description="FreeSWITCH Event Socket applications for call centres.",
    )
    parser.add_argument("--version", action="version", version=f"esl-apps {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"esl_apps.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"esl_apps.commands.{name}":
                continue  # command not built yet
            raise
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
