"""`scribe export FILE --format md|md-tree|json`: the document as Markdown (optionally with its branch tree), or the
tree as JSON, on stdout or into `--output`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

FORMATS = ("md", "md-tree", "json")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `export` command."""
    parser = subparsers.add_parser(
        "export",
        help="export a document as Markdown (with or without its branch tree) or its tree as JSON",
        description="Export FILE: md is the text as Markdown, md-tree adds every branch of the studio's tree "
        "(FILE.scribe.json), json is the tree itself.",
    )
    parser.add_argument("file", help="the document")
    parser.add_argument("--format", "-f", choices=FORMATS, default="md", help="what to write (default: md)")
    parser.add_argument("--output", "-o", help="write here (atomically) instead of to stdout")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Write the export."""
    from scribe.cli import CommandError
    from scribe.studio.branches import BranchFileError, BranchTree, sidecar_path
    from scribe.studio.document import Document, DocumentError, atomic_write
    from scribe.studio.export import to_json, to_markdown

    path = Path(args.file).expanduser().absolute()
    sidecar = sidecar_path(path)
    needed = sidecar if args.format == "json" else path
    if not needed.is_file():
        raise CommandError(f"{needed}: no such file")
    try:
        tree = BranchTree.load(sidecar) if args.format != "md" else None
        if args.format == "json":
            assert tree is not None
            content = to_json(tree) + "\n"
        else:
            document = Document.open(path)
            content = to_markdown(document.title, document.saved_text, tree)
    except (DocumentError, BranchFileError) as exc:
        raise CommandError(str(exc)) from None
    if args.output:
        atomic_write(Path(args.output).expanduser().absolute(), content.encode("utf-8"))
    else:
        sys.stdout.write(content)
    return 0
