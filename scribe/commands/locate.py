"""`scribe locate`: print where scribe keeps its settings, data, cache, logs and models."""

from __future__ import annotations

import argparse

from scribe.config import Paths, hf_cache_dir
from scribe.store.bundled import bundled_models_dir


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `locate` command."""
    parser = subparsers.add_parser("locate", help="print the config, data, cache, log and model directories")
    parser.add_argument(
        "which",
        nargs="?",
        choices=("config", "data", "cache", "log", "models", "autosave", "hf-cache", "bundled"),
        help="print only this one path (for scripts)",
    )
    parser.set_defaults(run=run)


def locations(paths: Paths) -> dict[str, str]:
    """Name -> path of every location scribe uses."""
    return {
        "config": str(paths.config_file),
        "data": str(paths.data),
        "cache": str(paths.cache),
        "log": str(paths.log),
        "models": str(paths.models),
        "autosave": str(paths.autosave),
        "hf-cache": str(hf_cache_dir()),
        "bundled": str(bundled_models_dir()),
    }


def run(args: argparse.Namespace) -> int:
    """Print one location, or all of them as aligned `name  path` lines."""
    found = locations(Paths.discover())
    if args.which:
        print(found[args.which])
        return 0
    width = max(map(len, found))
    for name, path in found.items():
        print(f"{name:<{width}}  {path}")
    return 0
