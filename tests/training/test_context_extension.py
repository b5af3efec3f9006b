"""Continuing a model at a longer context (`--extend-context`) with whole files held out (`--holdout`), on a real
tiny GPT-2 and character tokenizer built here."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from scribe.training.events import Event, Started
from scribe.training.trainer import TrainConfig, Trainer, TrainingError

WORDS = "the cat sat on a mat while an old dog slept by the warm fire and rain fell".split()


def prose(seed: int, words: int = 900) -> str:
    text = " ".join(WORDS[(i * 7 + seed * 3 + i // 5) % len(WORDS)] for i in range(words)) + "."
    return textwrap.fill(text.capitalize(), 70)


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path, Path]:
    paths = []
    for i, name in enumerate(("one.txt", "two.txt", "held.txt")):
        path = tmp_path / name
        path.write_text(prose(i), encoding="utf-8")
        paths.append(path)
    return paths[0], paths[1], paths[2]


@pytest.fixture
def base(files: tuple[Path, Path, Path], char_gpt2: Callable[..., Path]) -> Path:
    """A random 1-layer GPT-2 with a 16-token context and a character tokenizer, saved like any model folder."""
    return char_gpt2(list(files), 16)


def config(tmp_path: Path, files: tuple[Path, ...], base: Path, **changes: object) -> TrainConfig:
    values: dict = dict(data=[str(p) for p in files], output=tmp_path / "out", job_dir=tmp_path / "job",
                        mode="finetune", base=str(base), context=32, batch_size=2, max_steps=2, eval_every=10,
                        log_every=1, eval_tokens=256, sample_tokens=2, sample_temperatures=(1.0,), warmup_steps=1,
                        lr=1e-3, threads=1)
    values.update(changes)
    return TrainConfig(**values)


def test_the_position_table_grows_by_repeating_its_rows_and_short_texts_score_as_before(base: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    from scribe.training.positions import extend_positions

    model = AutoModelForCausalLM.from_pretrained(base).eval()
    ids = torch.arange(1, 11)[None]
    before = model(input_ids=ids).logits
    old_rows = model.transformer.wpe.weight.detach().clone()
    assert extend_positions(model, 40) == 16
    rows = model.transformer.wpe.weight.detach()
    assert rows.shape == (40, 16) and model.config.n_positions == 40
    assert torch.equal(rows[:16], old_rows) and torch.equal(rows[16], old_rows[0]) and torch.equal(rows[39], old_rows[7])
    assert torch.allclose(model(input_ids=ids).logits, before)
    assert model(input_ids=torch.arange(1, 41)[None] % 10 + 1).logits.shape[1] == 40  # 40 positions now run


def test_a_longer_context_needs_extend_context(tmp_path: Path, files: tuple[Path, Path, Path], base: Path) -> None:
    with pytest.raises(TrainingError, match="--extend-context"):
        Trainer(config(tmp_path, files, base)).run()


def test_fine_tuning_at_a_longer_context_on_all_but_the_held_out_file(tmp_path: Path, files: tuple[Path, Path, Path],
                                                                     base: Path) -> None:
    one, two, held = files
    events: list[Event] = []
    trainer = Trainer(config(tmp_path, files, base, extend_context=True, holdout=[str(held)]), events.append)
    finished = trainer.run()
    assert finished.steps == 2 and finished.val_loss is not None
    assert json.loads((tmp_path / "out" / "config.json").read_text())["n_positions"] == 32

    # the validation text is the held-out file (joined into one paragraph), and it is not in the training stream
    held_text = " ".join(held.read_text().split("\n"))
    assert trainer.data.val_text.startswith(held_text[:200])
    started = next(e for e in events if isinstance(e, Started))
    assert started.documents == 3
    train_text = trainer.data.tokenizer.decode(trainer.data.train.tolist())
    assert " ".join(one.read_text().split("\n")) in train_text and held_text[:300] not in train_text
