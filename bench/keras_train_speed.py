"""Training speed of each Keras architecture: samples (training windows) and tokens per second on Tiny Shakespeare.

For each architecture's preset (small by default): the model is built over its vocabulary of Tiny Shakespeare, then
`--steps` optimiser steps (`train_on_batch`, as `scribe train` runs them) are timed after `--warmup` untimed ones.

    .venv/bin/python bench/keras_train_speed.py [--preset small] [--steps 30] [--warmup 3]

Writes bench/results/keras_train_speed.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from bench_data import SHAKESPEARE

REPO = Path(__file__).resolve().parents[1]
DATA = SHAKESPEARE
RESULT = REPO / "bench" / "results" / "keras_train_speed.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="small")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("SCRIBE_HOME", tempfile.mkdtemp(prefix="scribe-bench-"))

    import numpy as np

    from hardware import hardware
    from scribe.keras_models.architectures import ARCHITECTURES, build_model
    from scribe.keras_models.env import import_keras
    from scribe.keras_models.vocab import char_vocab, word_vocab

    keras = import_keras()
    import tensorflow as tf

    text = DATA.read_text(encoding="utf-8")
    rows = {}
    for name, arch in ARCHITECTURES.items():
        shape = arch.presets[args.preset]
        vocab = char_vocab([text]) if arch.tokens == "char" else word_vocab([text], shape.max_tokens)
        ids = np.asarray(vocab.encode(text), dtype=np.int32)
        keras.utils.set_random_seed(0)
        model = build_model(name, shape, len(vocab))
        rng = np.random.default_rng(0)
        offsets = np.arange(shape.sequence_length + 1)

        def step() -> None:  # called only in this iteration of the loop
            batch = ids[rng.integers(0, len(ids) - shape.sequence_length - 1, shape.batch_size)[:, None] + offsets]  # noqa: B023
            model.train_on_batch(batch[:, :-1], batch[:, 1:])  # noqa: B023

        for _ in range(args.warmup):
            step()
        start = time.perf_counter()
        for _ in range(args.steps):
            step()
        seconds = time.perf_counter() - start
        samples = args.steps * shape.batch_size
        rows[name] = {
            "parameters": int(model.count_params()), "vocab": len(vocab), "sequence_length": shape.sequence_length,
            "batch_size": shape.batch_size, "samples_per_s": round(samples / seconds, 1),
            "tokens_per_s": round(samples * shape.sequence_length / seconds), "ms_per_step": round(1000 * seconds / args.steps, 1),
        }
        print(name, rows[name], flush=True)
    summary = {"preset": args.preset, "steps": args.steps, "architectures": rows,
               "hardware": {**hardware("cpu"), "tensorflow": tf.__version__, "keras": keras.__version__},
               "command": "python " + " ".join(sys.argv)}
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
