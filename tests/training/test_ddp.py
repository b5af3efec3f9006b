"""The same trainer under torch.distributed.run with 2 CPU processes (gloo) ends where one process does."""

from __future__ import annotations

from pathlib import Path

import pytest
from safetensors.torch import load_file

from scribe.training.events import Error, Finished, Started
from scribe.training.jobs import TrainingJob
from scribe.training.trainer import TrainConfig, Trainer

pytestmark = pytest.mark.slow  # training runs in child processes


def config(data: Path, out: Path, **changes: object) -> TrainConfig:
    values: dict = dict(data=[str(data)], output=out / "model", job_dir=out / "job", preset="tiny", tokenizer="char",
                        context=32, batch_size=8, grad_accum=2, max_steps=6, eval_every=3, log_every=3,
                        eval_tokens=256, sample_tokens=4, sample_temperatures=(1.0,), warmup_steps=2, threads=1)
    return TrainConfig(**values | changes)


def test_two_processes_match_one(shakespeare_text: str, tmp_path: Path) -> None:
    data = tmp_path / "slice.txt"
    data.write_text(shakespeare_text[:30_000])
    single = Trainer(config(data, tmp_path / "one")).run()

    job = TrainingJob(config(data, tmp_path / "two"), processes=2).start()
    events = list(job.events())
    assert job.wait() == 0, (tmp_path / "two" / "job" / "job.log").read_text()
    kinds = [e.kind for e in events]
    assert kinds.count("started") == 1 and kinds.count("finished") == 1, kinds  # only the main process reports
    first = kinds.index("started")  # data preparation may report `preparing` first on a busy machine
    assert set(kinds[:first]) <= {"preparing"} and "preparing" not in kinds[first:], kinds
    started, finished = events[first], events[-1]
    assert isinstance(started, Started) and started.processes == 2
    assert isinstance(finished, Finished) and finished.steps == 6 and finished.tokens == single.tokens
    assert finished.val_loss is not None and single.val_loss is not None
    assert abs(finished.val_loss - single.val_loss) < 1e-3
    one, two = load_file(str(tmp_path / "one" / "model" / "model.safetensors")), load_file(
        str(tmp_path / "two" / "model" / "model.safetensors"))
    for name in one:
        assert (one[name] - two[name]).abs().max().item() < 1e-4, name


def test_a_step_too_big_for_memory_ends_every_process_with_one_message(shakespeare_text: str, tmp_path: Path) -> None:
    data = tmp_path / "slice.txt"
    data.write_text(shakespeare_text[:30_000])
    job = TrainingJob(config(data, tmp_path, max_memory_gb=0.001), processes=2).start()
    events = list(job.events())
    assert job.wait() != 0
    errors = [e for e in events if isinstance(e, Error)]
    assert len(errors) == 1 and "for one block of 32 tokens beyond the model, but 0 MB is left" in errors[0].message
    assert not any(isinstance(e, Started) for e in events) and not (tmp_path / "model").exists()
