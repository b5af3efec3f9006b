"""Training jobs as real child processes: SIGKILL loses only the steps since the last checkpoint, Ctrl-C on `scribe
train` checkpoints and saves, a full disk while checkpointing is a clear error that leaves no model behind."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from scribe.training.checkpoint import STATE_FILE
from scribe.training.events import Checkpoint, Error, Event, Saved, Started, Step
from scribe.training.jobs import TrainingJob
from scribe.training.trainer import TrainConfig, Trainer

pytestmark = pytest.mark.slow  # training runs in child processes

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def text_file(shakespeare_text: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "slice.txt"
    path.write_text(shakespeare_text[:30_000])
    return path


def config(data: Path, out: Path, **changes: object) -> TrainConfig:
    values: dict = dict(data=[str(data)], output=out / "model", job_dir=out / "job", preset="tiny", tokenizer="char",
                        context=32, batch_size=4, max_steps=100_000, eval_every=100_000, checkpoint_every=5,
                        log_every=1, eval_tokens=128, sample_tokens=4, sample_temperatures=(1.0,), warmup_steps=2,
                        threads=1)
    values.update(changes)
    return TrainConfig(**values)


def test_a_job_runs_without_the_huge_pages_scribe_set_for_decoding(text_file: Path, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THP_MEM_ALLOC_ENABLE", "1")
    monkeypatch.setenv("SCRIBE_CHOSE_HUGE_PAGES", "1")
    job = TrainingJob(config(text_file, tmp_path)).start()
    try:
        assert job.process is not None
        environ = Path(f"/proc/{job.process.pid}/environ").read_bytes().split(b"\0")
    finally:
        job.kill()
        job.wait()
    assert not any(item.startswith((b"THP_MEM_ALLOC_ENABLE=", b"SCRIBE_CHOSE_HUGE_PAGES=")) for item in environ)
    assert f"PATH={os.environ['PATH']}".encode() in environ


def test_sigkill_loses_only_the_steps_since_the_last_checkpoint(text_file: Path, tmp_path: Path) -> None:
    job = TrainingJob(config(text_file, tmp_path)).start()
    seen: list[Event] = []
    for event in job.events():
        seen.append(event)
        if isinstance(event, Checkpoint) and event.step >= 10:
            job.kill()
    assert job.wait() == -signal.SIGKILL
    assert isinstance(seen[-1], Error) and "killed by signal 9" in seen[-1].message
    last_step = max(e.step for e in seen if isinstance(e, Step))
    checkpointed = json.loads((tmp_path / "job" / "checkpoint" / STATE_FILE).read_text())["step"]
    assert checkpointed % 5 == 0 and 10 <= checkpointed <= last_step < checkpointed + 5 + 1
    assert not (tmp_path / "model").exists()  # no half-written model under the final name
    assert [p.name for p in (tmp_path / "job").iterdir() if p.name.startswith(".")] == []

    events: list[Event] = []
    finished = Trainer(config(text_file, tmp_path, max_steps=checkpointed + 3, resume=True), events.append).run()
    started = events[0]
    assert isinstance(started, Started) and started.resumed_from == checkpointed
    assert [e.step for e in events if isinstance(e, Step)] == [checkpointed + 1, checkpointed + 2, checkpointed + 3]
    assert finished.reason == "max_steps" and (tmp_path / "model" / "model.safetensors").exists()


def test_ctrl_c_on_the_command_checkpoints_and_saves(text_file: Path, tmp_path: Path, scribe_home: Path) -> None:
    command = [sys.executable, "-m", "scribe", "train", str(text_file), "--output", str(tmp_path / "model"),
               "--preset", "tiny", "--tokenizer", "char", "--context", "32", "--batch-size", "4", "--max-steps",
               "100000", "--eval-every", "100000", "--threads", "1"]
    process = subprocess.Popen(command, cwd=REPO, stderr=subprocess.PIPE, text=True)
    lines = []
    for line in process.stderr:  # the job runs in its own session: Ctrl-C reaches the command, which cancels it
        lines.append(line.rstrip("\n"))
        if line.startswith("step     20"):
            process.send_signal(signal.SIGINT)
    assert process.wait() == 130
    assert lines[-3].startswith("checkpoint at step ") and lines[-2].startswith("saved step ")
    assert lines[-1].startswith("finished (interrupted): ") and lines[-1].endswith(f"model in {tmp_path / 'model'}")
    assert (tmp_path / "model" / "model.safetensors").exists()
    assert (scribe_home / "data" / "jobs" / "model" / "checkpoint" / STATE_FILE).exists()


def test_a_full_disk_while_checkpointing_is_a_clear_error(text_file: Path, tmp_path: Path) -> None:
    def small_files() -> None:  # a real file size limit in the child: writes past it fail with EFBIG
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (150_000, 150_000))

    job = TrainingJob(config(text_file, tmp_path, max_steps=20)).start(preexec_fn=small_files)
    events = list(job.events())
    assert job.wait() == 1
    error = events[-1]
    assert isinstance(error, Error)
    assert error.message.startswith(f"cannot write the checkpoint for step 5 in {tmp_path / 'job'}: a file grew past "
                                    "the size this file system or process allows (File too large)")
    assert not any(isinstance(e, Saved) for e in events) and not (tmp_path / "model").exists()
    assert sorted(p.name for p in (tmp_path / "job").iterdir()) == ["job.json", "job.log", "tokenizer"]
