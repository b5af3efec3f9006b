"""`char-lstm` validation loss on Tiny Shakespeare within a time budget, against char-rnn's ≈1.40 nats/character.

Trains with the same trainer as `scribe train --arch char-lstm` (the equivalent command is recorded in the result) on
`tests/data/tinyshakespeare.txt` with 5% held out for validation (as char-rnn did; here whole chunks of the
text chosen with the seed, as `scribe train` splits a single file), and records the validation loss
(nats per character) at every evaluation. The run stops at `--minutes` and saves the model folder to `--output`.

    .venv/bin/python bench/keras_char_lstm_shakespeare.py [--preset medium] [--minutes 60] [--eval-every 200]

Writes bench/results/keras_char_lstm_shakespeare.json (rewritten after every evaluation, so a stopped run still
leaves its figures).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from bench_data import SHAKESPEARE

REPO = Path(__file__).resolve().parents[1]
DATA = SHAKESPEARE
RESULT = REPO / "bench" / "results" / "keras_char_lstm_shakespeare.json"
ANCHOR = 1.40


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="medium")
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--eval-every", type=int, default=200)
    parser.add_argument("--output", type=Path, help="model folder (default: a temporary one)")
    args = parser.parse_args()
    os.environ.setdefault("SCRIBE_HOME", tempfile.mkdtemp(prefix="scribe-bench-"))
    output = args.output or Path(tempfile.mkdtemp(prefix="char-lstm-")) / "char-lstm-shakespeare"

    from hardware import hardware
    from scribe.keras_models.train_config import KerasTrainConfig
    from scribe.keras_models.trainer import KerasTrainer
    from scribe.training.events import Eval, Event, Finished, Started

    command = (f"scribe train {DATA.resolve()} --arch char-lstm --preset {args.preset} --max-minutes {args.minutes:g} "
               f"--eval-every {args.eval_every} --val-fraction 0.05 --max-steps 1000000 --output {output}")
    summary: dict = {"preset": args.preset, "budget_minutes": args.minutes, "anchor_char_rnn_nats": ANCHOR,
                     "evals": [], "equivalent_command": command, "command": "python " + " ".join(sys.argv)}

    def emit(event: Event) -> None:
        if isinstance(event, Started):
            summary.update(parameters=event.parameters, vocab=event.vocab_size, train_chars=event.train_tokens,
                           val_chars=event.val_tokens, sequence_length=event.context, batch_size=event.batch_size)
        elif isinstance(event, Eval):
            summary["evals"].append({"step": event.step, "val_loss": event.val_loss})
            summary["best_val_loss"] = min(e["val_loss"] for e in summary["evals"])
            print(f"step {event.step}: val loss {event.val_loss:.4f} nats/char", flush=True)
            write(summary)
        elif isinstance(event, Finished):
            summary.update(finished=event.reason, steps=event.steps, minutes=round(event.elapsed_s / 60, 1),
                           final_val_loss=event.val_loss)

    config = KerasTrainConfig(data=[str(DATA)], output=output, arch="char-lstm", preset=args.preset,
                              max_steps=1_000_000, max_minutes=args.minutes, eval_every=args.eval_every,
                              val_fraction=0.05, sample_tokens=200, command=command)
    KerasTrainer(config, emit).run()
    summary["hardware"] = hardware("cpu")
    summary["model"] = str(output)
    write(summary)
    print(json.dumps({k: v for k, v in summary.items() if k != "evals"}, indent=2))


def write(summary: dict) -> None:
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
