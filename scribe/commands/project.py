"""`scribe project DIR`: a project's chapters with their word counts and the total, or a search across them."""

from __future__ import annotations

import argparse

from scribe.cli import CommandError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `project` command."""
    parser = subparsers.add_parser(
        "project", help="a project's chapters and word counts, or search across them",
        description="List the chapters of a project folder (scribe-project.toml) with word counts, or search them.")
    parser.add_argument("folder", help="the project folder")
    parser.add_argument("--search", "-s", metavar="TEXT", help="print every line of every chapter that contains TEXT")
    parser.add_argument("--regex", action="store_true", help="TEXT is a regular expression")
    parser.add_argument("--case-sensitive", action="store_true", help="match case")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the word counts, or the search hits as `chapter:line: text`."""
    from scribe.studio.project import Project, ProjectError

    try:
        project = Project.load(args.folder)
        if args.search is not None:
            hits = project.search(args.search, regex=args.regex, case_sensitive=args.case_sensitive)
            for hit in hits:
                print(f"{hit.chapter}:{hit.line}: {hit.text}")
            return 0 if hits else 1
        counts = project.word_counts()
    except ProjectError as exc:
        raise CommandError(str(exc)) from None
    width = max((len(name) for name, _ in counts), default=5)
    for number, (name, words) in enumerate(counts, 1):
        print(f"{number:>3}  {name:<{width}}  {words:>8,} words")
    print(f"     {'total':<{width}}  {sum(w for _, w in counts):>8,} words")
    return 0
