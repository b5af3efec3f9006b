"""`scribe train`: fine-tune a model (all weights, or LoRA with `--lora`) on text files, or train one from scratch.

Training runs in its own process (`scribe.training.job`); this command shows its events as a progress bar on a
terminal (one line per report otherwise), or with --json passes them through as JSON lines on stdout. Ctrl-C (or
SIGTERM) asks the job to stop: it writes a checkpoint, saves the model trained so far and the command exits with status
130; a second one stops it at once (status 75) and prints the `--resume` command that continues from the last
checkpoint; a third kills it. `--resume` continues from the checkpoint with the same data order (EXIT_CODES).
`--processes N` runs N data-parallel processes; under `torchrun`/`accelerate launch` (WORLD_SIZE set) the command
trains in-process as one of the ranks.
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import sys
import threading
from pathlib import Path

from scribe.durations import format_duration
from scribe.keras_models.architectures import ARCHITECTURES
from scribe.store.names import check_training_output
from scribe.training.precision import PRECISIONS

_DEFAULTS = {"preset": "small", "context": 256, "batch_size": 32, "warmup": 100, "max_steps": 1000, "eval_every": 250,
             "seed": 0, "vocab_size": 8192, "val_fraction": 0.1, "keras_val_fraction": 0.05, "lora_r": 8,
             "lora_alpha": 16}
_CHAR_DEFAULTS = {"context": 64, "batch_size": 12}
"""Defaults shown in --help. Unset flags stay None and `scribe.training.plan` fills them in: these mirror its and
TrainConfig's, and `_CHAR_DEFAULTS` the char preset's (scribe.training.trainer.PRESET_SETTINGS), kept here so --help
does not import the trainer."""
BAR_WIDTH = 24
EXIT_STOPPED_AT_ONCE = 75
"""scribe.training.job.EXIT_STOPPED_AT_ONCE (not imported: --help and this module stay free of the training package)."""
EXIT_CODES = """exit status:
  0    training finished; the model is saved
  1    an error (the message says what to do); nothing is lost, a model is saved only whole
  2    bad command-line arguments
  75   stopped at once by a second Ctrl-C (or SIGTERM): the model is not saved, the last checkpoint is kept and the
       command to continue from it is printed (the same command with --resume)
  130  stopped by Ctrl-C (or SIGTERM): a checkpoint is written and the model trained so far is saved; --resume
       continues (during data preparation: stopped at once, nothing trained)"""
"""The exit codes, in `scribe train --help` and docs/reliability.md."""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `train` command."""
    d, c = _DEFAULTS, _CHAR_DEFAULTS
    p = subparsers.add_parser(
        "train",
        help="fine-tune a model on your text (or train one from scratch)",
        description="Fine-tune a Hugging Face causal language model on plain-text files, folders or globs (--base; "
        "add --lora for LoRA), or train a GPT-2-architecture model from scratch (no --base). Ctrl-C checkpoints and "
        "saves what was trained so far; --resume continues.",
        epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("files", nargs="+", metavar="FILES", help="text files, folders or glob patterns")
    p.add_argument("--name", help="model name (default: the first file's stem, with -tuned or -lora when fine-tuning); "
                   "the model goes to <models dir>/<name>")
    p.add_argument("--output", type=Path, help="model folder to write (overrides --name's location)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing model folder at the output")
    p.add_argument("--base", metavar="MODEL", help="fine-tune this model (name, Hugging Face id or folder)")
    p.add_argument("--lora", action="store_true", help="with --base: train LoRA adapters, merged into the saved model")
    p.add_argument("--lora-r", type=int, help=f"LoRA rank (default {d['lora_r']})")
    p.add_argument("--lora-alpha", type=int, help=f"LoRA alpha (default {d['lora_alpha']})")
    p.add_argument("--arch", default="gpt2", choices=("gpt2", *ARCHITECTURES),
                   help="from-scratch architecture: gpt2 (default), or a Keras model: char-lstm, word-lstm, "
                   "transformer-decoder, mini-gpt (presets tiny, small, medium)")
    p.add_argument("--preset",
                   help="from-scratch shape: tiny, small, medium, or char (character-level, for small corpora; "
                   f"nanoGPT's Shakespeare CPU configuration: context {c['context']}, batch {c['batch_size']} unless "
                   f"given) (default {d['preset']})")
    p.add_argument("--tokenizer", metavar="PATH|train|char",
                   help="from scratch: train a byte-level BPE (default), use characters, or reuse a tokenizer folder")
    p.add_argument("--vocab-size", type=int, help=f"size of a trained tokenizer (default {d['vocab_size']})")
    p.add_argument("--context", type=int, help=f"tokens per training block (default {d['context']}, {c['context']} with "
                   "--preset char; Keras: the preset's)")
    p.add_argument("--batch-size", type=int, help=f"blocks per step (default {d['batch_size']}, {c['batch_size']} "
                   "with --preset char; Keras: the preset's)")
    p.add_argument("--grad-accum", type=int,
                   help="micro-batches per step, at least (default 1; more when a step would not fit in memory)")
    p.add_argument("--lr", type=float, help="peak learning rate (default 1e-3 from scratch, 5e-4 fine-tuning, 2e-3 LoRA)")
    p.add_argument("--warmup", type=int,
                   help=f"warmup steps (default: the first 5%% of --max-minutes' budget, else {d['warmup']} steps)")
    p.add_argument("--dropout", type=float, help="dropout of a from-scratch model and of LoRA's frozen base (default 0)")
    p.add_argument("--max-steps", type=int, help=f"step limit (default {d['max_steps']})")
    p.add_argument("--max-minutes", type=float, help="wall-clock budget; stops and saves when reached")
    p.add_argument("--eval-every", type=int,
                   help=f"evaluate and sample every N steps (default: a quarter of --max-steps, at most "
                   f"{d['eval_every']})")
    p.add_argument("--checkpoint-every", type=int, help="write a checkpoint every N steps (default: --eval-every)")
    p.add_argument("--patience", type=int, help="stop early after N evaluations without a better validation loss")
    p.add_argument("--val-fraction", type=float,
                   help=f"share of the text held out for validation (default {d['val_fraction']}; Keras: "
                   f"{d['keras_val_fraction']})")
    p.add_argument("--resume", action="store_true", help="continue the run with this name from its last checkpoint")
    p.add_argument("--processes", type=int, default=1, help="data-parallel training processes (DDP; default 1)")
    p.add_argument("--device", help="auto, cpu, cuda or cuda:N (default auto)")
    p.add_argument("--precision", choices=PRECISIONS,
                   help="arithmetic of the matrix products (default auto: bfloat16 on a GPU that has it, and for "
                   "--lora on a CPU with bfloat16 instructions, where the frozen base then takes half the memory; "
                   "float32 elsewhere)")
    p.add_argument("--max-memory", type=float, metavar="GB",
                   help="memory training may use: the model, and micro-batches small enough to fit, with freed "
                        "memory given straight back (slower) when even one row would not (default: what is free)")
    p.add_argument("--seed", type=int, help=f"random seed (default {d['seed']})")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--keep-gutenberg-headers", action="store_true", help="do not strip Project Gutenberg headers")
    p.add_argument("--keep-line-breaks", action="store_true",
                   help="train on the text's line breaks as they are (default: hard-wrapped prose paragraphs are "
                   "joined into one line each; verse, lists and headings keep theirs)")
    p.add_argument("--holdout", nargs="+", default=[], metavar="FILES",
                   help="files, folders or globs held out whole for validation, never trained on (default: a "
                   "seeded --val-fraction of the documents)")
    p.add_argument("--extend-context", action="store_true",
                   help="with --base: continue a GPT-2 model at a --context longer than its own, its learned "
                   "positions repeated to fill the longer table")
    p.add_argument("--json", action="store_true", help="print one JSON event per line on stdout")
    p.set_defaults(run=run)


def _progress(event) -> str | None:  # noqa: ANN001 - an Event
    """One human line for an event (None for events not shown)."""
    from scribe.training.events import Checkpoint, Eval, Finished, Preparing, Sample, Saved, Started, Step

    if isinstance(event, Preparing):
        return f"preparing the data ({format_duration(event.elapsed_s)}): {event.stage}"
    if isinstance(event, Started):
        what = f"{event.preset}" if event.mode == "scratch" else f"{event.base} ({event.mode})"
        line = (f"training {what} ({event.parameters:,} trainable parameters, vocab {event.vocab_size}) on "
                f"{event.documents} document(s), {event.train_tokens:,} tokens (+{event.val_tokens:,} validation)")
        if event.resumed_from:
            line += f", resuming at step {event.resumed_from}"
        if event.processes > 1:
            line += f", {event.processes} processes"
        if fit := event.how_steps_run():
            line += f", {fit}"
        return line + "".join(f"\n  skipped {path}: {reason}" for path, reason in event.skipped)
    if isinstance(event, Step):
        return (f"step {event.step:>6}  loss {event.loss:.4f}  lr {event.lr:.2e}  "
                f"{event.tokens_per_s:,.0f} tok/s  elapsed {format_duration(event.elapsed_s)}  eta {format_duration(event.eta_s)}")
    if isinstance(event, Eval):
        label = "base model" if event.step == 0 else f"eval step {event.step}"
        return (f"{label}: val loss {event.val_loss:.4f} nats/token, perplexity {event.perplexity:.2f}, "
                f"{event.bits_per_char:.3f} bits/char")
    if isinstance(event, Sample):
        return f"  sample t={event.temperature:g}: {(event.prompt + event.text)!r}"
    if isinstance(event, Checkpoint):
        return f"checkpoint at step {event.step} in {event.path}"
    if isinstance(event, Saved):
        return f"saved step {event.step} to {event.path}"
    if isinstance(event, Finished):
        val = (f"val loss {event.val_loss:.4f} nats/token, perplexity {event.perplexity:.2f}, "
               f"{event.bits_per_char:.3f} bits/char" if event.val_loss is not None else "no evaluation")
        if event.base_perplexity is not None:
            val += f" (base model: perplexity {event.base_perplexity:.2f})"
        where = f"model in {event.path}" if event.path else "nothing saved"
        return (f"finished ({event.reason}): {event.steps} steps, {event.tokens:,} tokens in "
                f"{format_duration(event.elapsed_s)}; {val}; {where}")
    return None


def progress_bar(step: int, max_steps: int, loss: float, tokens_per_s: float, eta_s: float) -> str:
    """`[#####-----]  45%  step 450/1000  loss 3.2100  1,234 tok/s  eta 01:12`."""
    done = min(1.0, step / max(max_steps, 1))
    filled = int(done * BAR_WIDTH)
    return (f"[{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {done:4.0%}  step {step}/{max_steps}  loss {loss:.4f}  "
            f"{tokens_per_s:,.0f} tok/s  eta {format_duration(eta_s)}")


class Display:
    """Shows events on stderr: a bar redrawn in place on a terminal, one line per report otherwise (or JSON)."""

    def __init__(self, as_json: bool, stream=sys.stderr) -> None:  # noqa: ANN001
        self.as_json = as_json
        self.stream = stream
        self.tty = stream.isatty()
        self.max_steps = 0
        self.bar_shown = False

    def __call__(self, event) -> None:  # noqa: ANN001
        from scribe.training.events import Started, Step

        if self.as_json:
            print(event.to_json(), flush=True)
            return
        if isinstance(event, Started):
            self.max_steps = event.max_steps
        if self.tty and isinstance(event, Step):
            bar = progress_bar(event.step, self.max_steps, event.loss, event.tokens_per_s, event.eta_s)
            self.stream.write("\r\033[K" + bar)
            self.stream.flush()
            self.bar_shown = True
            return
        line = _progress(event)
        if line is not None:
            self.stream.write(("\r\033[K" if self.bar_shown else "") + line + "\n")
            self.stream.flush()
            self.bar_shown = False


def choices(args: argparse.Namespace):  # noqa: ANN201 - TrainingChoices
    """The writer's choices, as the parsed flags give them (the plan fills in what is left unset)."""
    from scribe.training.plan import TrainingChoices

    return TrainingChoices(
        files=list(args.files), name=args.name, output=args.output, base=args.base, arch=args.arch,
        preset=args.preset, lora=args.lora, tokenizer=args.tokenizer, vocab_size=args.vocab_size, context=args.context,
        batch_size=args.batch_size, grad_accum=args.grad_accum, lr=args.lr, warmup=args.warmup, dropout=args.dropout,
        max_steps=args.max_steps, max_minutes=args.max_minutes, eval_every=args.eval_every,
        checkpoint_every=args.checkpoint_every, patience=args.patience, val_fraction=args.val_fraction, seed=args.seed,
        threads=args.threads, device=args.device, max_memory_gb=args.max_memory, precision=args.precision,
        strip_gutenberg=not args.keep_gutenberg_headers, join_lines=not args.keep_line_breaks,
        holdout=list(args.holdout), extend_context=args.extend_context, lora_r=args.lora_r, lora_alpha=args.lora_alpha,
        resume=args.resume, processes=args.processes, command="scribe " + shlex.join(sys.argv[1:]),
    )


def plan(args: argparse.Namespace):  # noqa: ANN201 - TrainingPlan
    """The run the flags describe (ValueError, one line, when they do not make sense)."""
    from scribe.training.plan import plan_training

    return plan_training(choices(args))


def run(args: argparse.Namespace) -> int:
    """Train; exit status 0, 130 when cancelled (after checkpointing and saving), 1 on an error."""
    from scribe.cli import CommandError
    from scribe.training.events import Error, Finished

    display = Display(args.json)
    try:
        run_plan = plan(args)
        replacing = check_training_output(run_plan.config.output, args.name, overwrite=args.overwrite,
                                          resume=args.resume)
    except ValueError as exc:
        if args.json:
            display(Error(str(exc)))
        raise CommandError(str(exc)) from None
    if replacing:
        print(replacing, file=sys.stderr)
    config = run_plan.config
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        return _run_as_rank(config, display)
    job = run_plan.job().start()
    status, failure = 1, None
    forward = _forward_signals(job)
    try:
        for event in _events_until_end(job):
            display(event)
            if isinstance(event, Finished):
                status = 130 if event.reason == "interrupted" else 0
            elif isinstance(event, Error):
                failure = event.message
    finally:
        forward()
    ended = job.wait()
    if ended == EXIT_STOPPED_AT_ONCE:
        print(stopped_at_once(config), file=sys.stderr)
        return EXIT_STOPPED_AT_ONCE
    if ended == 130 and failure is not None:  # cancelled while preparing the data
        print(failure, file=sys.stderr)
        return 130
    if failure is not None:
        raise CommandError(failure)
    return status


def stopped_at_once(config) -> str:  # noqa: ANN001 - TrainConfig or a Keras job's config
    """What a second Ctrl-C left: the checkpoint kept and the exact command continuing from it, or that there is none."""
    import json

    from scribe.training.job import resume_command

    checkpoint = getattr(config, "checkpoint_dir", None)
    try:
        step = json.loads((checkpoint / "state.json").read_text(encoding="utf-8"))["step"]
    except (OSError, ValueError, KeyError, TypeError):
        return "stopped at once; no checkpoint was written yet, so run the same command again to start over"
    return (f"stopped at once; the model was not saved, the checkpoint at step {step} in {checkpoint} is kept. "
            f"Continue with:\n  {resume_command(config.command)}")


def _events_until_end(job):  # noqa: ANN001, ANN202
    """The job's events; Ctrl-C while waiting asks the job to stop and keeps following it until it has saved."""
    while True:
        try:
            yield from job.events()
            return
        except KeyboardInterrupt:
            job.cancel()


def _forward_signals(job):  # noqa: ANN001, ANN202
    """SIGINT (Ctrl-C) and SIGTERM to this command go to the job: the first two as SIGINT (the job checkpoints and
    saves, then the second stops it at once), a third kills it (a KeyboardInterrupt raised while reading the job's
    output would end the event generator and lose the job's last events); returns a function restoring the handlers."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    received = 0

    def forward(signum: int, frame: object) -> None:
        nonlocal received
        received += 1
        if received <= 2:
            job.cancel()
        else:
            job.kill()

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    return lambda: [signal.signal(sig, handler) for sig, handler in previous.items()]


def _run_as_rank(config, display) -> int:  # noqa: ANN001
    """One rank of a torchrun / accelerate launch run: train in this process (rank 0 reports)."""
    from scribe.cli import CommandError
    from scribe.training.job import install_cancel_handlers, quiet_libraries, run_config
    from scribe.training.events import Error

    errors: list[str] = []

    def emit(event) -> None:  # noqa: ANN001
        display(event)
        if isinstance(event, Error):
            errors.append(event.message)

    cancel = threading.Event()
    install_cancel_handlers(cancel)
    quiet_libraries()
    status = run_config(config, emit, cancel)
    if errors:
        raise CommandError(errors[0])
    return status
