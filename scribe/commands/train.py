"""`scribe train`: train a small GPT-2-architecture model from scratch on text files.

Progress goes to stderr as one compact line per report (or, with --json, one event per line on stdout). Ctrl-C (or
SIGTERM) stops early, saves what was trained so far and exits with status 130.
"""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
import threading
from pathlib import Path

from scribe.config import Paths

_SCRATCH_DEFAULTS = {"preset": "small", "context": 256, "batch_size": 32, "lr": 1e-3, "warmup": 100, "max_steps": 5000,
                     "eval_every": 250, "seed": 0, "vocab_size": 8192}
"""Defaults shown in --help; they mirror ScratchConfig's (kept here so --help does not import the trainer)."""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `train` command."""
    d = _SCRATCH_DEFAULTS
    p = subparsers.add_parser(
        "train",
        help="train a small GPT-2-style model from scratch on text files",
        description="Train a GPT-2-architecture model from scratch on plain-text files, folders or globs. "
        "Ctrl-C saves what was trained so far.",
    )
    p.add_argument("files", nargs="+", metavar="FILES", help="text files, folders or glob patterns")
    p.add_argument("--name", help="model name (default: the first file's stem); the model goes to <models dir>/<name>")
    p.add_argument("--output", type=Path, help="model folder to write (overrides --name's location)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing model folder at the output")
    p.add_argument("--preset", default=d["preset"], help="model shape: tiny, small or medium (default %(default)s)")
    p.add_argument("--tokenizer", default="train", metavar="PATH|train",
                   help="train a new byte-level BPE (default) or reuse a tokenizer folder")
    p.add_argument("--vocab-size", type=int, default=d["vocab_size"], help="size of a trained tokenizer (default %(default)s)")
    p.add_argument("--context", type=int, default=d["context"], help="tokens per training block (default %(default)s)")
    p.add_argument("--batch-size", type=int, default=d["batch_size"], help="blocks per step (default %(default)s)")
    p.add_argument("--lr", type=float, default=d["lr"], help="peak learning rate (default %(default)s)")
    p.add_argument("--warmup", type=int, default=d["warmup"], help="warmup steps (default %(default)s)")
    p.add_argument("--max-steps", type=int, default=d["max_steps"], help="step limit (default %(default)s)")
    p.add_argument("--max-minutes", type=float, help="wall-clock budget; stops and saves when reached")
    p.add_argument("--eval-every", type=int, default=d["eval_every"],
                   help="evaluate, sample and save every N steps (default %(default)s)")
    p.add_argument("--seed", type=int, default=d["seed"], help="random seed (default %(default)s)")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--keep-gutenberg-headers", action="store_true", help="do not strip Project Gutenberg headers")
    p.add_argument("--json", action="store_true", help="print one JSON event per line on stdout")
    p.set_defaults(run=run)


def _output(args: argparse.Namespace) -> Path:
    if args.output:
        return args.output.expanduser()
    name = args.name or Path(args.files[0].rstrip("/\\")).stem or "model"
    return Paths.discover().models / name


def _progress(event) -> str | None:  # noqa: ANN001 - an Event
    """One human line for an event (None for events not shown)."""
    from scribe.training.events import Eval, Finished, Sample, Saved, Started, Step

    if isinstance(event, Started):
        line = (f"training {event.preset} ({event.parameters / 1e6:.2f}M parameters, vocab {event.vocab_size}) on "
                f"{event.documents} document(s), {event.train_tokens:,} tokens (+{event.val_tokens:,} validation)")
        skipped = "".join(f"\n  skipped {path}: {reason}" for path, reason in event.skipped)
        return line + skipped
    if isinstance(event, Step):
        eta = f"{event.eta_s / 60:.1f} min" if event.eta_s >= 60 else f"{event.eta_s:.0f} s"
        return (f"step {event.step:>6}  loss {event.loss:.4f}  lr {event.lr:.2e}  "
                f"{event.tokens_per_s:,.0f} tok/s  elapsed {event.elapsed_s / 60:.1f} min  eta {eta}")
    if isinstance(event, Eval):
        return (f"eval step {event.step}: val loss {event.val_loss:.4f} nats/token, perplexity {event.perplexity:.2f}, "
                f"{event.bits_per_char:.3f} bits/char")
    if isinstance(event, Sample):
        return f"  sample t={event.temperature:g}: {(event.prompt + event.text)!r}"
    if isinstance(event, Saved):
        return f"saved step {event.step} to {event.path}"
    if isinstance(event, Finished):
        val = (f"val loss {event.val_loss:.4f} nats/token, perplexity {event.perplexity:.2f}, "
               f"{event.bits_per_char:.3f} bits/char" if event.val_loss is not None else "no evaluation")
        return (f"finished ({event.reason}): {event.steps} steps, {event.tokens:,} tokens in "
                f"{event.elapsed_s / 60:.1f} min; {val}; model in {event.path}")
    return None


def run(args: argparse.Namespace) -> int:
    """Train, reporting progress; exit status 0, or 130 when interrupted (after saving)."""
    from scribe.cli import CommandError
    from scribe.training.events import Error, Event

    output = _output(args)
    if output.exists() and any(output.iterdir()) and not args.overwrite:
        raise CommandError(f"{output} already exists (use --overwrite to replace it, or --name/--output)")

    def emit(event: Event) -> None:
        if args.json:
            print(event.to_json(), flush=True)
        elif (line := _progress(event)) is not None:
            print(line, file=sys.stderr, flush=True)

    from transformers.utils import logging as hf_logging

    from scribe.training.scratch import ScratchConfig, ScratchTrainer

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    config = ScratchConfig(
        data=list(args.files),
        output=output,
        name=args.name or output.name,
        tokenizer=args.tokenizer,
        vocab_size=args.vocab_size,
        preset=args.preset,
        context=args.context,
        batch_size=args.batch_size,
        lr=args.lr,
        warmup_steps=args.warmup,
        max_steps=args.max_steps,
        max_minutes=args.max_minutes,
        eval_every=args.eval_every,
        seed=args.seed,
        threads=args.threads,
        strip_gutenberg=not args.keep_gutenberg_headers,
        command="scribe " + shlex.join(sys.argv[1:]),
    )
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler) if in_main_thread else None
    try:
        finished = ScratchTrainer(config, emit).run()
    except (ValueError, OSError) as exc:
        if args.json:
            emit(Error(str(exc)))
        raise CommandError(str(exc)) from None
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)
    return 130 if finished.reason == "interrupted" else 0
