"""The command line. `scribe` alone opens the TUI; subcommands live in `scribe/commands/`, one module each.

Each command module has `register(subparsers)`, which adds its parser and sets `run=<function(args) -> int>`.
Command modules import nothing heavy at import time, so `scribe --help` stays fast; running a command imports only
its own module (the studio's first screen does not wait for the others).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Iterable

from scribe import __version__

COMMAND_MODULES = ("tui", "generate", "train", "eval", "sweep", "inspect", "export", "models", "locate", "project")
"""Command names; each is also the name of its module in scribe/commands/."""


class CommandError(Exception):
    """A failure reported as one line on stderr with exit status 1."""


def build_parser(commands: Iterable[str] = COMMAND_MODULES) -> argparse.ArgumentParser:
    """The top-level parser with `commands` registered (default: every subcommand)."""
    parser = argparse.ArgumentParser(
        prog="scribe",
        description="A keyboard-driven terminal writing studio. Without a command, opens the editor (same as `scribe tui`).",
    )
    parser.add_argument("--version", action="version", version=f"scribe {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in commands:
        importlib.import_module(f"scribe.commands.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run the chosen command; the TUI when none is given."""
    from scribe.engine.base import EngineError
    from scribe.engine.threads import prepare_cpu_threads

    prepare_cpu_threads()  # before any command imports torch
    argv = sys.argv[1:] if argv is None else argv
    if not argv or (argv[0] not in COMMAND_MODULES and argv[0] not in ("-h", "--help", "--version")):
        argv = ["tui", *argv]
    parser = build_parser([argv[0]] if argv[0] in COMMAND_MODULES else COMMAND_MODULES)
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except (CommandError, EngineError, ValueError, OSError) as exc:
        print(f"scribe: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("scribe: interrupted", file=sys.stderr)
        return 130
