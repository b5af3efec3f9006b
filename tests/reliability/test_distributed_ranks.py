"""Issue 15, "nothing hangs", for multi-process training's job plumbing (`TrainingJob` with `processes=2`:
torch.distributed.run, gloo on CPU). torch.distributed.run starts each rank in a session of its own, so `kill()` and
`cancel()` must reach the ranks themselves: a kill leaves no rank running, saving nothing and holding no pipe open, and
a cancel, or the reader going away, stops every rank with the model saved. Only rank 0 reports progress; an error
every rank meets is read once."""

from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from scribe.training.events import Error, Event, Finished
from scribe.training.jobs import TrainingJob, children
from scribe.training.trainer import TrainConfig

pytestmark = pytest.mark.slow  # two training processes under torch.distributed.run

REPO = Path(__file__).resolve().parents[2]
GONE_WITHIN_S = 10.0
"""How long after kill() every rank may take to be gone and the event pipe to reach its end (well under a second
when the ranks are signalled; a rank left running goes on training, or stops after a step and saves)."""
LIMIT_S = 300.0
"""How long a test may wait for the job to start training."""


def _config(tmp_path: Path) -> TrainConfig:
    text = tmp_path / "shakespeare.txt"
    text.write_text((REPO / "tests" / "data" / "tinyshakespeare.txt").read_text(encoding="utf-8")[:8000],
                    encoding="utf-8")
    return TrainConfig(data=[str(text)], output=tmp_path / "model", job_dir=tmp_path / "job", preset="tiny",
                       tokenizer="char", context=32, batch_size=4, max_steps=100_000, eval_every=50_000,
                       log_every=1, sample_tokens=4, sample_temperatures=(1.0,), threads=1)


def _running(pid: int) -> bool:
    """Whether process `pid` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _rank_of(pid: int) -> int:
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return next(int(item[5:]) for item in environ if item.startswith(b"RANK="))


def _training(job: TrainingJob) -> tuple[list[Event], dict[int, int]]:
    """Follow `job` to its first step; its events so far and its ranks' process ids by rank."""
    events: list[Event] = []
    deadline = time.monotonic() + LIMIT_S
    for event in job.events():
        events.append(event)
        assert not isinstance(event, (Error, Finished)), (event, (job.job_dir / "job.log").read_text())
        if event.kind == "step" or time.monotonic() > deadline:
            break
    assert events[-1].kind == "step", events
    assert job.process is not None
    ranks = {_rank_of(pid): pid for pid in children(job.process.pid)}
    assert sorted(ranks) == [0, 1], ranks
    return events, ranks


def _rest(job: TrainingJob, within_s: float) -> tuple[list[Event], bool]:
    """The job's remaining events, and whether its event pipe reached its end within `within_s`."""
    rest: list[Event] = []
    reader = threading.Thread(target=lambda: rest.extend(job.events()), daemon=True)
    reader.start()
    reader.join(within_s)
    return rest, not reader.is_alive()


def test_kill_ends_every_rank_at_once(tmp_path: Path, scribe_home: Path) -> None:
    """kill() while both ranks train: within seconds neither rank runs, the pipe ends with the kill reported, and
    nothing is saved (a rank orphaned by a kill of the launcher alone would stop after a step and save the model)."""
    job = TrainingJob(_config(tmp_path), processes=2).start()
    _, ranks = _training(job)
    killed = time.monotonic()
    job.kill()
    rest, ended = _rest(job, GONE_WITHIN_S)
    while any(_running(pid) for pid in ranks.values()) and time.monotonic() - killed < GONE_WITHIN_S:
        time.sleep(0.05)
    running = [pid for pid in ranks.values() if _running(pid)]
    for pid in running:  # the test fails: end them all the same
        os.kill(pid, signal.SIGKILL)
    assert running == [], running
    assert ended, "the event pipe is still open"
    assert not any(isinstance(event, Finished) for event in rest), rest
    assert isinstance(rest[-1], Error) and "was killed by signal 9" in rest[-1].message, rest
    assert job.wait(timeout=10) == -9
    assert not (tmp_path / "model").exists()


def test_cancel_stops_every_rank_with_the_model_saved(tmp_path: Path, scribe_home: Path) -> None:
    """cancel() while both ranks train: both stop after the same step, the model is saved, the job reports one
    `finished` (interrupted), and no rank is left running."""
    job = TrainingJob(_config(tmp_path), processes=2).start()
    _, ranks = _training(job)
    job.cancel()
    rest, ended = _rest(job, LIMIT_S)
    assert ended, "the job did not end after a cancel"
    assert [pid for pid in ranks.values() if _running(pid)] == []
    finished = [event for event in rest if isinstance(event, Finished)]
    assert len(finished) == 1 and finished[0].reason == "interrupted", rest
    assert not any(isinstance(event, Error) for event in rest), rest
    assert (tmp_path / "model" / "model.safetensors").is_file()


def test_rank_0_alone_reports_progress(tmp_path: Path, scribe_home: Path) -> None:
    """Every line on the job's stdout, read raw: `preparing` only before `started`, one `started`, one `finished`,
    no line twice. The run trains for more than two PROGRESS_SECONDS, so a rank whose progress thread never sees
    `started` (any rank but 0) would send `preparing` lines during training."""
    from scribe.training.events import parse_event
    from scribe.training.job import PROGRESS_SECONDS

    config = replace(_config(tmp_path), max_steps=1000, log_every=250, eval_every=500)
    job = TrainingJob(config, processes=2).start()
    assert job.process is not None and job.process.stdout is not None
    lines = list(job.process.stdout)
    assert job.wait() == 0, (tmp_path / "job" / "job.log").read_text()
    kinds = [parse_event(line).kind for line in lines]
    assert kinds.count("started") == 1 and kinds.count("finished") == 1 and kinds[-1] == "finished", kinds
    assert "preparing" not in kinds[kinds.index("started"):], kinds
    assert len(set(lines)) == len(lines), lines
    finished = parse_event(lines[-1])
    assert isinstance(finished, Finished) and finished.elapsed_s > 2 * PROGRESS_SECONDS, finished


def test_a_failed_save_is_reported_once(tmp_path: Path, scribe_home: Path) -> None:
    """A file stands where the model's parent folder goes, so rank 0's final save fails and every rank ends with its
    message: the job's events hold that error once, and no `finished`."""
    config = replace(_config(tmp_path), output=tmp_path / "models" / "model", max_steps=4, log_every=2)
    (tmp_path / "models").write_text("not a folder", encoding="utf-8")
    job = TrainingJob(config, processes=2).start()
    events = list(job.events())
    assert job.wait() != 0
    errors = [event.message for event in events if isinstance(event, Error)]
    assert len(errors) == 1 and "could not be saved" in errors[0], errors
    assert not any(isinstance(event, Finished) for event in events), events


def test_every_rank_stops_when_nothing_reads_the_events(tmp_path: Path, scribe_home: Path) -> None:
    """The reader closes the event pipe while both ranks train (as when `scribe train` is killed): every rank finds it
    gone and stops as a first cancel does, the model is saved, and job.log says why."""
    from scribe.training.job import EXIT_CANCELLED

    job = TrainingJob(_config(tmp_path), processes=2).start()
    _, ranks = _training(job)
    assert job.process is not None and job.process.stdout is not None
    job.process.stdout.close()
    status = job.wait(timeout=LIMIT_S)
    assert [pid for pid in ranks.values() if _running(pid)] == []
    log = (tmp_path / "job" / "job.log").read_text(encoding="utf-8")
    assert status != 0 and "the command that started this job is gone (" in log, log[-3000:]
    assert log.count("the command that started this job is gone (") == 1, log[-3000:]  # rank 0's, the one that knows
    assert "with a checkpoint" in log and f"exitcode  : {EXIT_CANCELLED} " in log, log[-3000:]
    assert (tmp_path / "model" / "model.safetensors").is_file()
