"""The command line. `scribe` alone opens the TUI; subcommands live in `scribe/commands/`, one module each.

Each command module has `register(subparsers)`, which adds its parser and sets `run=<function(args) -> int>`.
Command modules import nothing heavy at import time, so `scribe --help` stays fast; running a command imports only
its own module (the studio's first screen does not wait for the others).
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import sys
from collections.abc import Iterable
from pathlib import Path

from scribe import __version__

COMMAND_MODULES = ("tui", "generate", "train", "eval", "sweep", "inspect", "export", "models", "locate", "project")
"""Command names; each is also the name of its module in scribe/commands/."""
ALIASES = {"open": "tui"}
"""Other names of commands: `scribe open FILE` opens a file even when it is named like a command."""


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


def with_command(argv: list[str]) -> list[str]:
    """`argv` with its command first: `tui` when it starts with a file (or `--`, or nothing).

    A first word that is no command but close to one (`modles`) is taken for a typo and refused with the nearest
    command, unless a file of that name exists: a new document is never opened by a mistyped command. `scribe open
    NAME` and `scribe -- NAME` open a file whatever it is called."""
    if not argv or argv[0] == "--":
        return ["tui", *argv]
    first = argv[0]
    if first in COMMAND_MODULES or first in ALIASES or first.startswith("-"):
        return argv
    nearest = difflib.get_close_matches(first, [*COMMAND_MODULES, *ALIASES], n=1, cutoff=0.75)
    if nearest and not Path(first).exists():
        raise CommandError(f"{first!r} is not a command: did you mean {nearest[0]}? (to open or create a file named "
                           f"{first!r}: scribe open {first})")
    return ["tui", *argv]


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run the chosen command; the TUI when none is given."""
    from scribe.engine.base import EngineError
    from scribe.engine.threads import prepare_cpu_threads

    prepare_cpu_threads()  # before any command imports torch
    argv = sys.argv[1:] if argv is None else argv
    try:
        argv = with_command(argv)
    except CommandError as exc:
        print(f"scribe: error: {exc}", file=sys.stderr)
        return 2
    command = ALIASES.get(argv[0], argv[0])
    parser = build_parser([command] if command in COMMAND_MODULES else COMMAND_MODULES)
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except (CommandError, EngineError, ValueError, OSError) as exc:
        print(f"scribe: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("scribe: interrupted", file=sys.stderr)
        return 130
