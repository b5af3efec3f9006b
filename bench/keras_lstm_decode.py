"""Character-LSTM generation speed: scribe's stateful decoding against re-running the whole window per character, as
the classic Keras text-generation scripts do.

One `char-lstm` model of the chosen preset (seeded random weights: speed does not depend on them) over Tiny
Shakespeare's characters, continued from the same 100-character prompt, in the same process:

- window/predict: the seed scripts' loop: for each new character, `model.predict` on the last `sequence_length`
  characters, then temperature sampling in NumPy;
- window/compiled: the same re-run, but as one compiled call (`tf.function`, fixed shape): the fastest way to re-run;
- scribe/in-process: `KerasGenerator.stream` (stateful LSTM cells, scribe's sampler, top-5 alternatives, text stream);
- scribe/worker: the same through `scribe.engine.registry.load_model`, i.e. the worker process the TUI uses.

Rates are new characters per second of decoding (after the first character, so prompt processing is left out for all).

    .venv/bin/python bench/keras_lstm_decode.py [--preset small] [--chars 500] [--window-chars 100]

Writes bench/results/keras_lstm_decode.json.
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
RESULT = REPO / "bench" / "results" / "keras_lstm_decode.json"
TEMPERATURE = 0.8


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="small")
    parser.add_argument("--chars", type=int, default=500, help="new characters per scribe run")
    parser.add_argument("--window-chars", type=int, default=100, help="new characters per window run (slow)")
    args = parser.parse_args()
    os.environ.setdefault("SCRIBE_HOME", tempfile.mkdtemp(prefix="scribe-bench-"))

    import numpy as np

    from hardware import hardware
    from scribe.engine.base import StreamEnd
    from scribe.engine.registry import load_model
    from scribe.keras_models.architectures import architecture, build_model, preset
    from scribe.keras_models.env import import_keras
    from scribe.keras_models.runtime import KerasGenerator
    from scribe.keras_models.saved import save_folder
    from scribe.keras_models.vocab import char_vocab
    from scribe.sampling.params import SamplingParams

    keras = import_keras()
    import tensorflow as tf

    text = DATA.read_text(encoding="utf-8")
    vocab = char_vocab([text])
    keras.utils.set_random_seed(0)
    shape = preset("char-lstm", args.preset)
    model = build_model("char-lstm", shape, len(vocab))
    window = shape.sequence_length
    prompt = text[:window]
    rng = np.random.default_rng(0)

    def sample(logits: np.ndarray) -> int:
        p = np.exp((logits - logits.max()) / TEMPERATURE)
        return int(rng.choice(len(p), p=p / p.sum()))

    def window_rate(step) -> float:  # noqa: ANN001 - ids [1, window] -> logits
        ids = vocab.encode(prompt)
        ids.append(sample(step(np.array([ids[-window:]], dtype=np.int32))))
        start = time.perf_counter()
        for _ in range(args.window_chars):
            ids.append(sample(step(np.array([ids[-window:]], dtype=np.int32))))
        return args.window_chars / (time.perf_counter() - start)

    compiled = tf.function(lambda ids: model(ids, training=False)[0, -1],
                           input_signature=[tf.TensorSpec([1, window], tf.int32)])
    results: dict[str, float] = {
        "window_predict": window_rate(lambda ids: model.predict(ids, verbose=0)[0, -1]),
        "window_compiled": window_rate(lambda ids: compiled(ids).numpy()),
    }

    def scribe_rate(stream) -> float:  # noqa: ANN001
        params = SamplingParams(temperature=TEMPERATURE, max_new_tokens=args.chars, seed=0)
        list(stream(prompt, params.replace(max_new_tokens=5)))  # warm-up (traces the steps)
        end = [item for item in stream(prompt, params) if isinstance(item, StreamEnd)][0]
        assert end.tokens == args.chars, end
        return end.tokens_per_s

    generator = KerasGenerator(model, vocab, architecture("char-lstm"), shape)
    results["scribe_in_process"] = scribe_rate(generator.stream)
    with tempfile.TemporaryDirectory() as folder:
        meta = {"architecture": "char-lstm", "preset": args.preset, "shape": shape.to_dict(), "parameters": 0}
        save_folder(Path(folder) / "bench-lstm", model, vocab, meta, lambda tmp: None)
        backend = load_model(str(Path(folder) / "bench-lstm"))
        try:
            results["scribe_worker"] = scribe_rate(backend.stream)
        finally:
            backend.close()

    summary = {
        "preset": args.preset, "parameters": int(model.count_params()), "window": window, "vocab": len(vocab),
        "chars_per_s": {k: round(v, 1) for k, v in results.items()},
        "speedup_vs_window_predict": round(results["scribe_worker"] / results["window_predict"], 1),
        "speedup_vs_window_compiled": round(results["scribe_worker"] / results["window_compiled"], 1),
        "hardware": {**hardware("cpu"), "tensorflow": tf.__version__, "keras": keras.__version__},
        "command": "python " + " ".join(sys.argv),
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
