"""Character-level Tiny Shakespeare: how low the validation loss gets, and how soon, with the `char` preset.

nanoGPT's CPU configuration (4 layers, 4 heads, 128 wide, block 64, batch 12, learning rate 1e-3 with 100 warmup
steps and cosine decay over 2000 steps, no dropout) reaches a validation loss of about 1.88 nats/char in about three
minutes on a laptop CPU. Here the same shape and settings train through scribe's trainer on
`tests/data/tinyshakespeare.txt` with a 90/10 split (paragraph-aligned chunks held out with seed 0, as every
scribe run splits a single file), under a wall-clock budget. During training the validation loss is measured on the
first `--eval-tokens` characters of the held-out tenth every `--eval-every` steps (nanoGPT scores 200 batches, 153,600
characters); the time to target is the training wall time (evaluations included, reading and tokenising excluded) at
the first evaluation at or below `--target`. The final model is then scored on the whole held-out tenth (not timed).

GPU (nanoGPT's Shakespeare-char GPU configuration; anchor: about 3 minutes on one A100 to 1.47):

    .venv/bin/python bench/char_shakespeare.py --device cuda --preset medium --context 256 --batch-size 64 \\
        --dropout 0.2 --max-steps 5000 --warmup 100 --minutes 1 --eval-every 250 --target 1.47

Default (CPU): .venv/bin/python bench/char_shakespeare.py   (3 minutes, target 1.88)

Writes bench/results/char_shakespeare.json (char_shakespeare_<device>.json on another device).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from transformers.utils import logging as hf_logging

from bench_data import SHAKESPEARE
from hardware import hardware
from scribe.training.events import Eval, Event, Started
from scribe.training.trainer import TrainConfig, Trainer

REPO = Path(__file__).resolve().parents[1]
DATA = SHAKESPEARE


def whole_validation_loss(folder: Path, trainer: Trainer, args: argparse.Namespace) -> float:
    """Mean loss of the saved model over every held-out character, in blocks of the training context."""
    from transformers import AutoModelForCausalLM

    from scribe.training.corpus import read_corpus
    from scribe.training.dataset import encode_documents, split_corpus
    from scribe.training.evaluate import block_nll

    cfg = trainer.config
    corpus = read_corpus(cfg.data, strip_gutenberg=cfg.strip_gutenberg, join_lines=cfg.join_lines)
    _, val_docs = split_corpus(corpus.documents, 0.1, 0)
    ids = encode_documents(val_docs, trainer.data.tokenizer, None).ids
    model = AutoModelForCausalLM.from_pretrained(folder).to(trainer.device).eval()
    nats, count = block_nll(model, ids.to(trainer.device), args.context, args.batch_size)
    return nats / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--preset", default="char")
    parser.add_argument("--context", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=12)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--dropout", type=float, default=0.0)
    parser.add_argument("--max-steps", type=int, default=2000)
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--eval-every", type=int, default=250)
    parser.add_argument("--target", type=float, default=1.88)
    parser.add_argument("--eval-tokens", type=int, default=50_000)
    parser.add_argument("--threads", type=int)
    args = parser.parse_args()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()

    evals: list[dict[str, float]] = []
    clock: dict[str, float] = {}

    def emit(event: Event) -> None:
        if isinstance(event, Started):
            clock["start"] = time.monotonic()
            print(f"{event.parameters:,} parameters, {event.train_tokens:,} training and {event.val_tokens:,} "
                  "validation characters", flush=True)
        elif isinstance(event, Eval):
            evals.append({"step": event.step, "val_loss": event.val_loss,
                          "wall_s": round(time.monotonic() - clock["start"], 1)})
            print(f"step {event.step:>5}  val loss {event.val_loss:.4f}  at {evals[-1]['wall_s']:.0f} s", flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        config = TrainConfig(
            data=[str(DATA)], output=Path(tmp) / "model", job_dir=Path(tmp) / "job", preset=args.preset,
            tokenizer="char", context=args.context, batch_size=args.batch_size, lr=args.lr, warmup_steps=args.warmup,
            dropout=args.dropout, max_steps=args.max_steps, max_minutes=args.minutes, eval_every=args.eval_every,
            checkpoint_every=10**9, eval_tokens=args.eval_tokens, val_fraction=0.1, sample_tokens=1,
            sample_temperatures=(1.0,), device=args.device, threads=args.threads, seed=0,
        )
        trainer = Trainer(config, emit)
        finished = trainer.run()
        full_val_loss = whole_validation_loss(Path(tmp) / "model", trainer, args)
    reached = next((e for e in evals if e["val_loss"] <= args.target), None)
    result = {
        "benchmark": "char_shakespeare",
        "settings": {k: v for k, v in vars(args).items()},
        "hardware": hardware(args.device),
        "steps": finished.steps,
        "stopped_by": finished.reason,
        "train_wall_s": finished.elapsed_s,
        "best_val_loss": min(e["val_loss"] for e in evals),
        "final_val_loss_whole_split": round(full_val_loss, 4),
        "target": args.target,
        "reached_target_at_s": reached["wall_s"] if reached else None,
        "reached_target_at_step": reached["step"] if reached else None,
        "evals": evals,
    }
    name = "char_shakespeare" if args.device == "cpu" else f"char_shakespeare_{args.device.replace(':', '')}"
    out = REPO / "bench" / "results" / f"{name}.json"
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"final model on the whole validation split: {full_val_loss:.4f} nats/char")
    print(f"best validation loss {result['best_val_loss']:.4f} nats/char after {finished.steps} steps in "
          f"{finished.elapsed_s:.0f} s; target {args.target}: "
          + (f"reached at step {reached['step']}, {reached['wall_s']:.0f} s" if reached else "not reached"))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
