"""The command line: the only layer that prints or exits.

Each subcommand lives in its own module with a ``register(subparsers)`` function that adds its
parser and sets ``handler`` (a function of the parsed namespace returning the exit status).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from poolwise._version import __version__

# Subcommand modules, in the order `poolwise --help` lists them.
_COMMANDS: tuple[str, ...] = ("demo", "advise", "check", "compare")  # compare: also run


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="poolwise",
        description="Threads or processes? Measure it on your own function, then run it safely.",
    )
    parser.add_argument("--version", action="version", version=f"poolwise {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMANDS:
        module = importlib.import_module(f"poolwise.cli._{name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        status: int = args.handler(args)
    except UsageError as exc:
        print(f"poolwise: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("poolwise: interrupted", file=sys.stderr)
        return 130
    return status
