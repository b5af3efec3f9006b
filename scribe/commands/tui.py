"""`scribe tui [FILE]` (also plain `scribe [FILE]`): open the writing studio. Keys: see scribe/ui/app.py."""

from __future__ import annotations

import argparse
import os

from scribe.config import load_settings

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
        help="open the writing studio (the default command)",
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
    settings = load_settings()
    overrides = {name: getattr(args, name) for name in ("model", "device", "dtype") if getattr(args, name)}
    settings = settings.replace(**overrides)
    for name, value in QUIET_LIBRARIES.items():
        os.environ.setdefault(name, value)
    from scribe.ui.app import ScribeApp

    path = args.file
    if path and os.path.isdir(path):  # a project folder opens its first chapter (scribe/studio/project.py)
        from scribe.studio.project import Project

        project = Project.load(path)
        path = str(project.path_of(project.chapters[0])) if project.chapters else path
    while True:  # a chapter picked in a project's chapter list opens in a fresh studio
        app = ScribeApp(path, settings=settings)
        app.run()
        if app.next_document is None or app.return_code:
            return app.return_code or 0
        path = str(app.next_document)
