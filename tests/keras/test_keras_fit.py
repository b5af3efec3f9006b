"""Keras training through `model.fit` and its callbacks: two epochs of a tiny char-LSTM and a tiny mini-GPT on a few
kB through the real job path (a `python -m scribe.keras_models.job` process), with the per-epoch history
(`metrics.jsonl`), its curve picture and the card linking it; a cancel stops within one batch and leaves a usable
folder; the time budget stops a run; the TextGenerator callback's top-k."""

from __future__ import annotations

import math
import os
import sys
import threading
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from scribe.training.curves import CURVE_FILE, METRICS_FILE, read_metrics
from scribe.training.events import Eval, Finished, Sample, Step

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def few_kb(tmp_path: Path, shakespeare_text: str) -> Path:
    path = tmp_path / "few.txt"
    path.write_text(shakespeare_text[:6_000], encoding="utf-8")
    return path


def child_env() -> dict[str, str]:
    """The job process imports this checkout's scribe, as the test process does."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


@pytest.mark.parametrize("arch", ["char-lstm", "mini-gpt"])
def test_two_epochs_through_the_job_save_their_history_curve_and_card(tmp_path: Path, few_kb: Path, arch: str) -> None:
    from scribe.keras_models.job import KerasTrainingJob
    from scribe.keras_models.train_config import KerasTrainConfig

    folder = tmp_path / "model"
    config = KerasTrainConfig(data=[str(few_kb)], output=folder, job_dir=tmp_path / "job", arch=arch, preset="tiny",
                              max_steps=6, eval_every=3, log_every=1, sample_temperatures=(0.5, 1.5),
                              sample_tokens=6, seed=2)
    job = KerasTrainingJob(config).start(env=child_env())
    events = list(job.events())
    assert job.wait(timeout=60) == 0, job.log_path.read_text()
    finished = events[-1]
    assert isinstance(finished, Finished) and finished.reason == "max_steps" and finished.steps == 6
    assert [e.step for e in events if isinstance(e, Step)] == [1, 2, 3, 4, 5, 6]
    evals = [e for e in events if isinstance(e, Eval)]
    assert [e.step for e in evals] == [3, 6]
    assert [(s.step, s.temperature) for s in events if isinstance(s, Sample)] == [(3, 0.5), (3, 1.5), (6, 0.5),
                                                                                 (6, 1.5)]

    history = read_metrics(folder)
    assert [(r["epoch"], r["step"]) for r in history] == [(1, 3), (2, 6)]
    for record, val in zip(history, evals):
        assert record["val_loss"] == val.val_loss and record["perplexity"] == val.perplexity
        assert record["perplexity"] == pytest.approx(math.exp(record["val_loss"]), rel=1e-3)
        assert 0 < record["bits_per_char"] and math.isfinite(record["train_loss"])
        assert [s["temperature"] for s in record["samples"]] == [0.5, 1.5]
        assert all(s["prompt"] == "It was" and s["text"] for s in record["samples"])
    window = {"char-lstm": 32, "mini-gpt": 16}[arch]  # the tiny presets' sequence lengths, batch 16
    assert history[0]["elapsed_s"] <= history[1]["elapsed_s"] and history[1]["tokens"] == 6 * 16 * window

    svg = ET.parse(folder / CURVE_FILE).getroot()
    assert svg.tag == f"{SVG}svg"
    assert len(svg.findall(f"{SVG}polyline")) == 3  # training and validation loss, validation perplexity
    assert len(svg.findall(f"{SVG}circle")) == 6  # a dot per epoch on each line
    assert "validation perplexity" in {t.text for t in svg.iter(f"{SVG}text")}

    card = (folder / "README.md").read_text(encoding="utf-8")
    assert f"]({CURVE_FILE})" in card and f"`{METRICS_FILE}`" in card
    assert f"| 1 | 3 | {history[0]['train_loss']:.4f} | {history[0]['val_loss']:.4f} |" in card
    assert f"| 2 | 6 | {history[1]['train_loss']:.4f} | {history[1]['val_loss']:.4f} |" in card
    assert "Held out: 1 stretch(es) of `few.txt`" in card


def test_a_cancel_stops_within_one_batch_and_leaves_a_usable_folder(tmp_path: Path, few_kb: Path) -> None:
    from scribe.keras_models.runtime import KerasGenerator
    from scribe.keras_models.saved import load_folder
    from scribe.keras_models.train_config import KerasTrainConfig
    from scribe.keras_models.trainer import KerasTrainer
    from scribe.sampling.params import SamplingParams

    cancel = threading.Event()
    events: list = []

    def emit(event) -> None:  # noqa: ANN001 - an Event
        events.append(event)
        if isinstance(event, Step) and event.step == 3:
            cancel.set()  # what the job's SIGINT handler does, here during batch 3's end

    folder = tmp_path / "model"
    config = KerasTrainConfig(data=[str(few_kb)], output=folder, arch="mini-gpt", preset="tiny", max_steps=100_000,
                              eval_every=100_000, log_every=1, sample_tokens=4, seed=1)
    finished = KerasTrainer(config, emit, cancel=cancel).run()
    assert finished.reason == "interrupted" and finished.steps == 3  # not one batch more
    assert [e.step for e in events if isinstance(e, Step)] == [1, 2, 3]
    assert [e.step for e in events if isinstance(e, Eval)] == [3]
    [record] = read_metrics(folder)
    assert record["step"] == 3 and record["val_loss"] == finished.val_loss
    loaded = load_folder(folder)
    assert loaded.meta["progress"]["step"] == 3
    end = list(KerasGenerator(loaded.model, loaded.vocab, loaded.arch, loaded.shape).stream(
        "It was", SamplingParams(seed=0, max_new_tokens=3), alternatives=0))[-1]
    assert end.error is None and end.tokens == 3


def test_a_cancelled_job_exits_130_with_its_history_saved(tmp_path: Path, few_kb: Path) -> None:
    from scribe.keras_models.job import KerasTrainingJob
    from scribe.keras_models.train_config import KerasTrainConfig

    folder = tmp_path / "model"
    config = KerasTrainConfig(data=[str(few_kb)], output=folder, job_dir=tmp_path / "job", arch="char-lstm",
                              preset="tiny", max_steps=100_000, eval_every=100_000, log_every=1, sample_tokens=4)
    job = KerasTrainingJob(config).start(env=child_env())
    events = []
    for event in job.events():
        events.append(event)
        if isinstance(event, Step) and event.step == 1:
            job.cancel()
    assert job.wait(timeout=60) == 130
    finished = events[-1]
    assert isinstance(finished, Finished) and finished.reason == "interrupted" and finished.steps < 100_000
    assert [r["step"] for r in read_metrics(folder)] == [finished.steps]
    assert (folder / CURVE_FILE).is_file() and (folder / "model.keras").is_file()


def test_the_time_budget_stops_the_fit(tmp_path: Path, few_kb: Path) -> None:
    from scribe.keras_models.train_config import KerasTrainConfig
    from scribe.keras_models.trainer import KerasTrainer

    config = KerasTrainConfig(data=[str(few_kb)], output=tmp_path / "model", arch="char-lstm", preset="tiny",
                              max_steps=100_000, eval_every=100_000, max_minutes=0.02, sample_tokens=4)
    finished = KerasTrainer(config).run()
    assert finished.reason == "max_minutes" and 1 <= finished.steps < 100_000
    assert finished.elapsed_s >= 1.2 and finished.val_loss is not None
    assert [r["step"] for r in read_metrics(tmp_path / "model")] == [finished.steps]


def test_the_text_generator_applies_top_k(trained: dict[str, Path]) -> None:
    from scribe.keras_models.callbacks import RunState, TextGenerator
    from scribe.keras_models.saved import load_folder

    loaded = load_folder(trained["mini-gpt"])
    samples: list[Sample] = []
    state = RunState(step=7)
    greedy = TextGenerator(state, samples.append, loaded.vocab, loaded.arch, loaded.shape, prompt="It was",
                           temperatures=(0.2, 1.0, 1.5), max_tokens=8, seed=3, top_k=1)
    greedy.set_model(loaded.model)
    greedy.on_epoch_end(0)
    assert [(s.step, s.temperature) for s in samples] == [(7, 0.2), (7, 1.0), (7, 1.5)] and state.samples == samples
    assert len({s.text for s in samples}) == 1 and samples[0].text  # top-k 1 leaves one choice at any temperature
    free = TextGenerator(state, samples.append, loaded.vocab, loaded.arch, loaded.shape, prompt="It was",
                         temperatures=(1.5,), max_tokens=8, seed=3)
    free.set_model(loaded.model)
    seeds = set()
    for seed in range(4):
        free.seed = seed
        free.on_epoch_end(0)
        seeds.add(samples[-1].text)
    assert len(seeds) > 1  # without top-k, temperature 1.5 varies with the seed


def test_ctrl_c_in_the_training_process_still_evaluates_samples_and_saves(tmp_path: Path, few_kb: Path) -> None:
    from scribe.keras_models.train_config import KerasTrainConfig
    from scribe.keras_models.trainer import KerasTrainer

    events: list = []

    def emit(event) -> None:  # noqa: ANN001 - an Event
        events.append(event)
        if isinstance(event, Step) and event.step == 2:
            raise KeyboardInterrupt  # Ctrl-C arriving while fit runs

    folder = tmp_path / "model"
    config = KerasTrainConfig(data=[str(few_kb)], output=folder, arch="char-lstm", preset="tiny", max_steps=100_000,
                              eval_every=100_000, log_every=1, sample_temperatures=(0.7,), sample_tokens=4)
    finished = KerasTrainer(config, emit).run()
    assert finished.reason == "interrupted" and finished.steps == 2
    assert [e.step for e in events if isinstance(e, Eval)] == [2]
    assert [(s.step, s.temperature) for s in events if isinstance(s, Sample)] == [(2, 0.7)]
    [record] = read_metrics(folder)
    assert record["step"] == 2 and record["val_loss"] == finished.val_loss and record["samples"][0]["text"]
