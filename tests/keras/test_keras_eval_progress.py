"""`scribe eval` on a Keras model says on stderr that TensorFlow/Keras is loading (its first start takes tens of
seconds) and how far scoring went, while `--json` stdout holds only the row."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from scribe.analysis.comparison import KERAS_LOADING


def test_eval_of_a_keras_model_says_tensorflow_is_loading(shakespeare_slice: Path, tmp_path: Path) -> None:
    from scribe.keras_models.train_config import KerasTrainConfig
    from scribe.keras_models.trainer import KerasTrainer

    model = tmp_path / "char-lstm"
    KerasTrainer(KerasTrainConfig(data=[str(shakespeare_slice)], output=model, arch="char-lstm", preset="tiny",
                                  max_steps=2, log_every=1, sample_tokens=4, seed=1)).run()
    text = tmp_path / "held.txt"
    text.write_text(shakespeare_slice.read_text(encoding="utf-8")[:3_000], encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-m", "scribe", "eval", str(text), "-m", str(model), "--json",
                           "--speed-tokens", "4"], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    row = json.loads(done.stdout)  # stdout is the JSON row and nothing else
    assert row["characters"] == 3_000 and row["tokens_per_s"] > 0
    lines = done.stderr.splitlines()
    assert KERAS_LOADING in lines
    assert f"scoring {model}…" in lines and f"timing 4 tokens of {model}…" in lines
    assert f"{model}: {row['tokens']:,} tokens scored · 100% · " in done.stderr  # the one document, scored
    assert lines[-1].startswith(f"{model}: {row['tokens']:,} tokens scored in 00:")
