"""A from-scratch preset carries the training settings its shape implies (`char`: nanoGPT's context 64 and batch 12),
applied only where the writer gave no flag; --help says them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from scribe.cli import build_parser
from scribe.commands.train import _CHAR_DEFAULTS, plan
from scribe.training.events import Finished, Started, parse_event
from scribe.training.plan import TrainingChoices, plan_training
from scribe.training.trainer import PRESET_SETTINGS

REPO = Path(__file__).resolve().parents[2]


def from_flags(*argv: str):  # noqa: ANN201 - TrainConfig
    return plan(build_parser().parse_args(["train", *argv, "--output", "/tmp/out"])).config


def test_the_char_preset_trains_at_its_own_context_and_batch() -> None:
    char = plan_training(TrainingChoices(files=["a.txt"], preset="char")).config
    assert (char.context, char.batch_size, char.tokenizer, char.lr) == (64, 12, "char", 1e-3)
    assert (from_flags("a.txt", "--preset", "char").context, from_flags("a.txt", "--preset", "char").batch_size) == (
        64, 12)
    small = plan_training(TrainingChoices(files=["a.txt"], preset="small")).config
    assert (small.context, small.batch_size) == (256, 32)


@pytest.mark.parametrize(("flags", "context", "batch_size"), [
    (["--context", "128"], 128, 12),
    (["--batch-size", "5"], 64, 5),
    (["--context", "256", "--batch-size", "32"], 256, 32),
])
def test_the_writers_flags_win_over_the_preset(flags: list[str], context: int, batch_size: int) -> None:
    config = from_flags("a.txt", "--preset", "char", *flags)
    assert (config.context, config.batch_size) == (context, batch_size)


def test_a_fine_tuned_model_ignores_the_preset_settings() -> None:
    tuned = plan_training(TrainingChoices(files=["a.txt"], base="gpt2", preset="char")).config
    assert (tuned.preset, tuned.context, tuned.batch_size) == ("small", 256, 32)


def test_help_gives_the_char_presets_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    assert _CHAR_DEFAULTS == PRESET_SETTINGS["char"]
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "tokens per training block (default 256, 64 with --preset char;" in text
    assert "blocks per step (default 32, 12 with --preset char;" in text
    assert "Shakespeare CPU configuration: context 64, batch 12 unless given" in text


@pytest.mark.slow
def test_scribe_train_preset_char_saves_a_model_of_context_64(shakespeare_text: str, tmp_path: Path) -> None:
    data = tmp_path / "bard.txt"
    data.write_text(shakespeare_text[:20_000], encoding="utf-8")
    out = tmp_path / "bard"
    result = subprocess.run([sys.executable, "-m", "scribe", "train", str(data), "--output", str(out), "--preset", "char",
                             "--max-steps", "2", "--threads", "1", "--json"],
                            cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    events = [parse_event(line) for line in result.stdout.splitlines()]
    started = next(e for e in events if isinstance(e, Started))
    assert (started.context, started.batch_size) == (64, 12)
    assert isinstance(events[-1], Finished) and events[-1].steps == 2
    saved = json.loads((out / "config.json").read_text(encoding="utf-8"))
    assert (saved["n_positions"], saved["n_layer"], saved["n_embd"]) == (64, 4, 128)
