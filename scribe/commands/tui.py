"""`scribe tui [FILE]` (also plain `scribe [FILE]`): open the writing studio. Keys: see scribe/ui/app.py.

SIGTERM, SIGHUP (the terminal closed) and SIGINT end the studio the way quitting does: the unsaved text is journalled,
the terminal is restored, and the exit status is 128 + the signal's number.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from collections.abc import Mapping
from typing import TYPE_CHECKING

from scribe.config import ConfigError, Paths, Settings, load_settings, with_flags
from scribe.files import set_aside

if TYPE_CHECKING:
    from scribe.ui.app import ScribeApp

QUIET_LIBRARIES = {
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "TRANSFORMERS_VERBOSITY": "error",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TOKENIZERS_PARALLELISM": "false",
}
"""Environment that keeps model libraries from writing over the screen (set only where the user has not)."""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `tui` command."""
    parser = subparsers.add_parser(
        "tui",
        aliases=["open"],
        help="open the writing studio (the default command); `open FILE` opens a file named like a command",
        description="Open FILE (or an untitled document) in the writing studio. ctrl+enter (or ctrl+j, alt+enter) "
        "continues at the cursor, tab accepts, ctrl+r rejects, ctrl+g regenerates, f2 shows the settings, "
        "ctrl+s saves, ctrl+q quits.",
    )
    parser.add_argument("file", nargs="?", help="the text file to edit (created on first save if it does not exist)")
    parser.add_argument("--model", "-m", help="model name or folder (default: the settings file's model)")
    parser.add_argument("--device", help="auto, cpu, cuda, cuda:N or mps")
    parser.add_argument("--dtype", help="auto, float32, float16, bfloat16 or int8 (int8: CPU, GPT-2 and Linear layers)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run the TUI until the writer quits."""
    settings, notice = studio_settings(Paths.discover(), os.environ)
    settings = with_flags(settings, model=args.model, device=args.device, dtype=args.dtype)
    for name, value in QUIET_LIBRARIES.items():
        os.environ.setdefault(name, value)
    from scribe.ui.app import ScribeApp

    path = args.file
    if path and os.path.isdir(path):  # a project folder opens its first chapter (scribe/studio/project.py)
        from scribe.studio.project import Project

        project = Project.load(path)
        path = str(project.path_of(project.chapters[0])) if project.chapters else path
    app = ScribeApp(path, settings=settings)
    if notice:
        app.notify(notice, title="Settings not used", severity="error", timeout=30, markup=False)
    asyncio.run(run_until_signalled(app))
    return app.return_code or 0


def studio_settings(paths: Paths, environ: Mapping[str, str]) -> tuple[Settings, str | None]:
    """The settings, or the defaults and a message when the settings file is damaged: the studio still opens, and
    the damaged file is moved aside so that a later save (a theme change) cannot overwrite it."""
    try:
        return load_settings(paths, dict(environ)), None
    except ConfigError as exc:
        problem = exc
    try:  # the environment at fault, not the file
        return load_settings(paths, {}), f"{problem}; ignored"
    except ConfigError:
        pass
    aside = set_aside(paths.config_file)
    return Settings(), f"{problem}; the file is kept as {aside} and the defaults are used"


EXIT_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP", "SIGINT") if hasattr(signal, name))
"""Signals that end the studio cleanly (journal written, terminal restored)."""


async def run_until_signalled(app: "ScribeApp") -> None:
    """Run `app`; an exit signal makes it exit as if the writer quit without saving (its unmount journals the text)."""
    loop = asyncio.get_running_loop()
    installed = []
    for signum in EXIT_SIGNALS:
        try:
            loop.add_signal_handler(signum, app.exit, None, 128 + signum)
        except (NotImplementedError, RuntimeError):  # Windows event loops have no signal handlers
            continue
        installed.append(signum)
    try:
        await app.run_async()
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)
