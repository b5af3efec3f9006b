"""The default learning rates of fine-tuning and LoRA move the bundled model: sixteen steps (four of warmup) on plays
it was not trained on lower its perplexity on held-out lines of the same plays by more than 5 % (the stage-6 bundled
model: 142.9 to 127.2 fully fine-tuned; with one warmup step and eight steps the full rate first overshoots, 151.9).
Sixteen steps are not what chose the rates: the 3-minute measurements that did are in DEFAULT_LR's docstring (on the
stage-6 model, quiet, 5e-4 still beats 2e-4 there: 67.5 against 71.0)."""

from __future__ import annotations

from pathlib import Path

import pytest

from scribe.training.trainer import DEFAULT_LR, TrainConfig, Trainer

MODEL = Path(__file__).resolve().parents[2] / "models" / "scribe-gutenberg"


@pytest.mark.parametrize("mode", ["finetune", "lora"])
def test_a_few_steps_at_the_default_rate_lower_held_out_perplexity(tmp_path: Path, shakespeare_text: str,
                                                                   mode: str) -> None:
    train, held = tmp_path / "plays.txt", tmp_path / "held.txt"
    train.write_text(shakespeare_text[:200_000], encoding="utf-8")
    held.write_text(shakespeare_text[-8_000:], encoding="utf-8")
    config = TrainConfig(data=[str(train)], holdout=[str(held)], output=tmp_path / "out", job_dir=tmp_path / "job",
                         mode=mode, base=str(MODEL), context=256, batch_size=8, max_steps=16,
                         warmup_steps=4, eval_every=1000, eval_tokens=2048, sample_tokens=1,
                         sample_temperatures=(1.0,), seed=0)
    assert config.lr == DEFAULT_LR[mode]
    finished = Trainer(config).run()
    assert finished.base_perplexity is not None and finished.perplexity is not None
    assert finished.perplexity < finished.base_perplexity * 0.95
