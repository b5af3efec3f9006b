"""`scribe eval`: perplexity and bits per character of one or more models on text files.

Perplexity uses the sliding-window protocol of the transformers perplexity guide (`--max-length`, `--stride`); bits per
character compare models with different tokenizers. Several `--model` options print one row each; `--per-file` prints
one row per file and model, then the model's overall row (total nats over total characters).

Progress goes to stderr (`EvalProgress`), never stdout, so `--json` output stays clean: on a terminal one line
rewritten in place, otherwise a line every `QUIET_INTERVAL` seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import TextIO

from scribe.durations import format_duration

QUIET_INTERVAL = 10.0
"""Seconds between progress lines when stderr is not a terminal (a log file, a pipe)."""
TTY_INTERVAL = 0.2
"""Seconds between redraws of the progress line on a terminal."""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `eval` command."""
    p = subparsers.add_parser(
        "eval",
        help="perplexity and bits per character of models on text files",
        description="Score models on plain-text files, folders or globs: sliding-window perplexity (as in the "
        "transformers perplexity guide) and bits per character.",
    )
    p.add_argument("files", nargs="+", metavar="FILES", help="text files, folders or glob patterns")
    p.add_argument("--model", "-m", action="append", required=True, metavar="MODEL",
                   help="model name or folder (repeat to compare several)")
    p.add_argument("--max-length", type=int, help="tokens per window (default: the model's context, at most 1024)")
    p.add_argument("--stride", type=int, help="tokens the window advances (default: half of --max-length)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default %(default)s)")
    p.add_argument("--strip-gutenberg", action="store_true", help="remove Project Gutenberg headers and footers")
    p.add_argument("--join-lines", action="store_true",
                   help="join hard-wrapped lines into paragraphs first, as `scribe train` prepares prose")
    p.add_argument("--per-file", action="store_true",
                   help="a row for each file (then each model's overall row) instead of one row per model")
    p.add_argument("--json", action="store_true", help="one JSON object per row on stdout")
    p.add_argument("--speed-tokens", type=int, default=64, metavar="N",
                   help="greedy tokens each model generates to measure tokens/s (default %(default)s; 0 skips it)")
    p.set_defaults(run=run)


def table(rows: list[dict[str, object]]) -> str:
    """The results as an aligned text table."""
    from scribe.analysis.comparison import COLUMNS, row_cells, row_note

    header = COLUMNS
    cells = [header] + [row_cells(r) for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))) for row in cells]
    notes = [note for note in map(row_note, rows) if note]
    return "\n".join(lines + notes)


class EvalProgress:
    """What `scribe eval` is doing, on stderr: the model being loaded or scored, tokens scored so far, the share done
    and an ETA. On a terminal the line is redrawn in place (at most every TTY_INTERVAL s); elsewhere the first update
    and then one line every QUIET_INTERVAL s are written. Each scored row ends with a line of its tokens and time."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.interval = TTY_INTERVAL if self.tty else QUIET_INTERVAL
        self.label, self.started, self.last = "", time.monotonic(), float("-inf")

    def begin(self, label: str) -> None:
        """A new model (or model and file) starts."""
        self.label, self.started, self.last = label, time.monotonic(), float("-inf")

    def status(self, text: str) -> None:
        """A one-off message (loading…), always shown."""
        self._write(text, final=True)

    def progress(self, tokens: int, fraction: float) -> None:
        """Tokens scored so far and the fraction done (`scribe.training.evaluate.Progress`)."""
        now = time.monotonic()
        if now - self.last < self.interval:
            return
        self.last = now
        elapsed = now - self.started
        eta = f"ETA {format_duration(elapsed / fraction * (1 - fraction))}" if 0 < fraction < 1 else "ETA -"
        self._write(f"{self.label}: {tokens:,} tokens scored · {fraction:.0%} · {format_duration(elapsed)} elapsed · {eta}",
                    final=False)

    def end(self, row: dict[str, object]) -> None:
        """The row is scored."""
        self._write(f"{self.label}: {row['tokens']:,} tokens scored in {format_duration(time.monotonic() - self.started)}",
                    final=True)

    def _write(self, text: str, *, final: bool) -> None:
        if self.tty:
            self.stream.write("\r\x1b[K" + text + ("\n" if final else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()


def run(args: argparse.Namespace) -> int:
    """Score each model in turn, with progress on stderr; print a table (or JSON lines)."""
    from scribe.training.job import quiet_libraries

    quiet_libraries()
    rows = []
    progress = EvalProgress()
    for name in args.model:
        for row in _model_rows(name, args, progress):
            rows.append(row)
            if args.json:
                print(json.dumps(row), flush=True)
    if not args.json:
        print(table(rows))
    return 0


def _model_rows(name: str, args: argparse.Namespace, progress: EvalProgress) -> list[dict[str, object]]:
    """One model's row, or with --per-file its row per file and then its overall row."""
    from scribe.analysis.comparison import compare_model, overall_row
    from scribe.training.corpus import expand_paths

    options = dict(max_length=args.max_length, stride=args.stride, device=args.device,
                   strip_gutenberg=args.strip_gutenberg, join_lines=args.join_lines,
                   progress=progress.progress, status=progress.status)

    def scored(label: str, files: list, speed_tokens: int) -> dict[str, object]:
        progress.begin(label)
        row = compare_model(name, files, speed_tokens=speed_tokens, **options)
        progress.end(row)
        return row

    if not args.per_file:
        return [scored(name, args.files, args.speed_tokens)]
    files, _ = expand_paths(args.files)
    rows = [scored(f"{name} {path.name}", [path], 0) | {"file": path.name} for path in files]
    return rows + [overall_row(rows)]
