"""With --max-minutes and no --warmup, the warmup follows the time budget (a fraction of it), not a fixed 100
steps; the decay already does."""

from __future__ import annotations

from pathlib import Path

import pytest

from scribe.training.trainer import DEFAULT_WARMUP_STEPS, TrainConfig, Trainer


def test_the_warmup_is_the_first_twentieth_of_the_budget(tmp_path: Path) -> None:
    trainer = Trainer(TrainConfig(data=[], output=tmp_path, lr=1e-3, warmup_steps=None, max_minutes=10,
                                  max_steps=100_000, min_lr_ratio=0.1))
    assert trainer.lr_at(0, 0.0) < 1e-5
    assert trainer.lr_at(40, 15.0) == pytest.approx(0.5e-3)  # 15 s of the 30 s warmup (5 % of 600 s)
    assert trainer.lr_at(80, 29.0) == pytest.approx(29 / 30 * 1e-3)
    assert trainer.lr_at(81, 30.0) == pytest.approx(1e-3, rel=1e-2)  # warm: the cosine starts near the peak
    assert trainer.lr_at(500, 300.0) == pytest.approx(0.55e-3)  # half the budget gone: half-way down
    assert trainer.warmup_done_at == 81
    # a fixed warmup still wins when given, and without a budget the default is a number of steps
    fixed = Trainer(TrainConfig(data=[], output=tmp_path, lr=1e-3, warmup_steps=10, max_minutes=10))
    assert fixed.lr_at(9, 0.0) == pytest.approx(1e-3)
    assert TrainConfig(data=[], output=tmp_path, warmup_steps=None).warmup_steps == DEFAULT_WARMUP_STEPS


def test_the_command_leaves_the_warmup_to_the_budget_unless_told(tmp_path: Path) -> None:
    from scribe.cli import build_parser
    from scribe.commands.train import plan

    def warmup(*flags: str) -> int | None:
        args = ["train", str(tmp_path / "t.txt"), "--output", str(tmp_path / "m"), *flags]
        return plan(build_parser().parse_args(args)).config.warmup_steps

    assert warmup("--max-minutes", "3") is None
    assert warmup() == DEFAULT_WARMUP_STEPS
    assert warmup("--max-minutes", "3", "--warmup", "7") == 7
