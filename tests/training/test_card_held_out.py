"""The GPT-2 trainer's model card says exactly what was held out for validation (the `--holdout` files, the files the
seeded split chose, or stretches of a single file) and which part each evaluation scored, and links the training
curve drawn from every evaluation (`metrics.jsonl`, `curves.svg`). A real tiny GPT-2 and character tokenizer built
here are fine-tuned for two steps."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from scribe.training.corpus import read_corpus
from scribe.training.curves import CURVE_FILE, read_metrics
from scribe.training.trainer import TrainConfig, Trainer

WORDS = "the cat sat on a mat while an old dog slept by the warm fire and rain fell".split()


def prose(seed: int, words: int = 900) -> str:
    text = " ".join(WORDS[(i * 7 + seed * 3 + i // 5) % len(WORDS)] for i in range(words)) + "."
    return textwrap.fill(text.capitalize(), 70)


@pytest.fixture
def files(tmp_path: Path) -> list[Path]:
    paths = []
    for i, name in enumerate(("one.txt", "two.txt", "held.txt")):
        path = tmp_path / name
        path.write_text(prose(i), encoding="utf-8")
        paths.append(path)
    return paths


@pytest.fixture
def base(files: list[Path], char_gpt2: Callable[..., Path]) -> Path:
    return char_gpt2(files)


def train(tmp_path: Path, data: list[Path], base: Path, **changes: object) -> tuple[Trainer, str]:
    config = TrainConfig(data=[str(p) for p in data], output=tmp_path / "out", job_dir=tmp_path / "job",
                         mode="finetune", base=str(base), context=32, batch_size=2, max_steps=2, eval_every=1,
                         log_every=1, eval_tokens=256, sample_tokens=2, sample_temperatures=(1.0,), warmup_steps=1,
                         lr=1e-3, threads=1, **changes)
    trainer = Trainer(config)
    trainer.run()
    return trainer, (tmp_path / "out" / "README.md").read_text(encoding="utf-8")


def test_the_card_names_the_holdout_files_and_draws_the_curve(tmp_path: Path, files: list[Path], base: Path) -> None:
    one, two, held = files
    _, card = train(tmp_path, [one, two], base, holdout=[str(held)])
    chars = len(read_corpus([str(held)]).documents[0].text)
    assert (f"Held out: the file(s) given with `--holdout`, `held.txt` ({chars:,} characters), whole and never "
            "trained on. Each evaluation scores the first 256 tokens (") in card
    assert "--val-fraction" not in card and "about 10%" not in card
    history = read_metrics(tmp_path / "out")
    assert [r["step"] for r in history] == [0, 1, 2]  # the base model, then each evaluation
    assert history[0]["train_loss"] is None and history[2]["train_loss"] is not None
    assert [s["temperature"] for s in history[2]["samples"]] == [1.0]
    assert (tmp_path / "out" / CURVE_FILE).is_file() and f"]({CURVE_FILE})" in card
    assert f"| 2 | {history[2]['train_loss']:.4f} | {history[2]['val_loss']:.4f} |" in card


def test_the_card_names_the_files_the_split_chose(tmp_path: Path, files: list[Path], base: Path) -> None:
    trainer, card = train(tmp_path, files, base)
    [held] = trainer.data.val_documents
    assert re.search(rf"Held out: 1 of the 3 files, `{held.path.name}` \({held.characters:,} characters, "
                     r"[\d.]+% of the text\), whole and never trained on, chosen with seed 0 until about 10% of the "
                     r"text was held out \(`--val-fraction`\)\.", card)


def test_the_card_describes_the_stretches_held_out_of_one_file(tmp_path: Path, files: list[Path], base: Path) -> None:
    big = tmp_path / "big.txt"
    big.write_text("\n\n".join(prose(i) for i in range(6)), encoding="utf-8")
    trainer, card = train(tmp_path, [big], base)
    stretches = trainer.data.val_documents
    chars = sum(d.characters for d in stretches)
    assert f"Held out: {len(stretches)} stretch(es) of `big.txt` ({chars:,} characters, " in card
    assert "the file was cut into chunks at paragraph breaks and chunks chosen with seed 0" in card
