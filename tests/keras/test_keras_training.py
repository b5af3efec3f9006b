"""Training each architecture for a few steps: events, the saved folder, resuming, and a corpus that is too short."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scribe.training.curves import read_metrics
from scribe.training.events import Eval, Finished, Sample, Started, parse_event
from scribe.keras_models.architectures import ARCHITECTURES

ARCHS = tuple(ARCHITECTURES)


def events_of(folder: Path) -> list:
    lines = folder.with_name(f"{folder.name}.events.jsonl").read_text(encoding="utf-8").splitlines()
    return [parse_event(line) for line in lines]


@pytest.mark.parametrize("arch", ARCHS)
def test_training_reports_events_and_saves_a_complete_folder(trained: dict[str, Path], arch: str) -> None:
    events = events_of(trained[arch])
    kinds = [e.kind for e in events]
    assert kinds[0] == "started" and kinds[-1] == "finished"
    assert kinds.count("step") == 2 and kinds.count("eval") == kinds.count("saved") == kinds.count("checkpoint") == 1
    started, finished = events[0], events[-1]
    assert isinstance(started, Started) and started.preset == f"{arch}-tiny" and started.parameters > 0
    assert isinstance(finished, Finished) and finished.steps == 2 and finished.reason == "max_steps"
    samples = [e for e in events if isinstance(e, Sample)]
    assert [s.temperature for s in samples] == [0.2, 0.5, 0.7, 1.0, 1.5]
    assert all(s.text for s in samples)
    evals = [e for e in events if isinstance(e, Eval)]
    assert finished.val_loss == evals[-1].val_loss and 0 < evals[-1].val_loss < 10
    folder = trained[arch]
    assert {p.name for p in folder.iterdir()} == {"model.keras", "vocab.json", "scribe-keras.json", "README.md",
                                                  "metrics.jsonl", "curves.svg"}
    meta = json.loads((folder / "scribe-keras.json").read_text(encoding="utf-8"))
    assert meta["architecture"] == arch and meta["progress"]["step"] == 2
    card = (folder / "README.md").read_text(encoding="utf-8")
    assert f"`{arch}`" in card and "keras.saving.load_model" in card and "temperature 1.5" in card


def test_resume_continues_from_the_saved_step(model_copy, shakespeare_slice: Path) -> None:
    from scribe.keras_models.train_config import KerasTrainConfig
    from scribe.keras_models.trainer import KerasTrainer

    folder = model_copy("char-lstm")
    events: list = []
    config = KerasTrainConfig(data=[str(shakespeare_slice)], output=folder, arch="char-lstm", preset="tiny",
                              max_steps=4, eval_every=2, log_every=2, sample_tokens=5, seed=1, resume=True)
    finished = KerasTrainer(config, events.append).run()
    assert isinstance(events[0], Started) and events[0].resumed_from == 2
    assert [e.step for e in events if isinstance(e, Eval)] == [4]
    assert finished.steps == 4
    assert json.loads((folder / "scribe-keras.json").read_text())["progress"]["step"] == 4
    history = read_metrics(folder)  # the first run's epoch is kept, the resumed run's follows
    assert [(r["epoch"], r["step"]) for r in history] == [(1, 2), (2, 4)]


@pytest.mark.parametrize(("arch", "unit", "length"), [("char-lstm", "characters", 10_000), ("mini-gpt", "words", 4000)])
def test_a_corpus_too_short_for_the_sequence_length_is_refused(tmp_path: Path, arch: str, unit: str,
                                                                length: int) -> None:
    from scribe.keras_models.train_config import KerasTrainConfig
    from scribe.keras_models.trainer import KerasTrainer

    short = tmp_path / "short.txt"
    short.write_text("To be, or not to be: that is the question.\n\n" * 150, encoding="utf-8")
    config = KerasTrainConfig(data=[str(short)], output=tmp_path / "out", arch=arch, preset="tiny",
                              sequence_length=length, max_steps=2)
    with pytest.raises(ValueError, match=f"corpus too short: .* {unit} .* sequence length of {length:,}"):
        KerasTrainer(config).run()
    short.write_text("To be, or not to be.\n", encoding="utf-8")
    with pytest.raises(ValueError, match="too little text to hold out a validation part"):
        KerasTrainer(config).run()
    assert not (tmp_path / "out").exists()


def test_unknown_architecture_or_preset_is_refused(tmp_path: Path) -> None:
    from scribe.keras_models.architectures import preset

    with pytest.raises(ValueError, match="choose one of char-lstm, word-lstm, transformer-decoder, mini-gpt"):
        preset("gru", "small")
    with pytest.raises(ValueError, match="choose one of tiny, small, medium"):
        preset("mini-gpt", "huge")
