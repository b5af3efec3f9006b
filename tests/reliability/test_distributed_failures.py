"""Issue 15, "nothing hangs", for multi-process training (`scribe train --processes 2`: torch.distributed.run, gloo on
CPU): when work only the main process does fails (here the final save), every process ends at once with the same
one-line error, the one the writer sees (the save failure, naming the checkpoint kept and the `--resume` command), and
none is left running or dies on a lost connection. And no process waits for ever for one that stopped answering:
after `SCRIBE_DDP_TIMEOUT` seconds it gives up with a one-line message."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from scribe.training.checkpoint import load_checkpoint

pytestmark = pytest.mark.slow  # two training processes under torch.distributed.run

REPO = Path(__file__).resolve().parents[2]
ENDS_WITHIN_S = 20.0
"""How long after the first error the whole job may take to end (it takes 2-5 s on a busy 2-core machine; a process
left waiting at a barrier would take gloo's timeout, 30 minutes)."""
LIMIT_S = 300.0
"""How long a whole test's job may run before it is killed and the test fails."""


def _text(tmp_path: Path) -> Path:
    path = tmp_path / "shakespeare.txt"
    path.write_text((REPO / "tests" / "data" / "tinyshakespeare.txt").read_text(encoding="utf-8")[:8000],
                    encoding="utf-8")
    return path


def _processes_of(marker: str) -> list[str]:
    """The command lines of running processes that mention `marker` (a path unique to one test)."""
    found = subprocess.run(["pgrep", "-af", marker], capture_output=True, text=True).stdout
    return [line for line in found.splitlines() if str(os.getpid()) != line.split()[0]]


def _descendants(pid: int) -> list[int]:
    """The processes under `pid`, children first (torch.distributed.run starts each rank in its own session, so killing
    the launcher's process group leaves them)."""
    try:
        children = [int(child) for task in Path(f"/proc/{pid}/task").glob("*")
                    for child in (task / "children").read_text().split()]
    except OSError:  # it has ended
        return []
    return children + [grandchild for child in children for grandchild in _descendants(child)]


def _kill_tree(pid: int) -> None:
    """SIGKILL `pid` and every process under it."""
    for each in [pid, *_descendants(pid)]:
        try:
            os.kill(each, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _run_timed(command: list[str], limit_s: float, **popen: object) -> tuple[int, list[tuple[float, str]]]:
    """Run `command`; its exit status and its stderr lines with the time each arrived. A command still running after
    `limit_s` is killed (with its whole session) and fails the test: the old code waited at a barrier there."""
    lines: list[tuple[float, str]] = []
    process = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                               start_new_session=True, **popen)
    assert process.stderr is not None
    stream = process.stderr
    reader = threading.Thread(target=lambda: lines.extend((time.monotonic(), line.rstrip("\n")) for line in stream),
                              daemon=True)
    reader.start()
    try:
        status = process.wait(timeout=limit_s)
    except subprocess.TimeoutExpired:
        _kill_tree(process.pid)
        process.wait()
        pytest.fail(f"the job was still running after {limit_s:.0f} s: {[line for _, line in lines][-20:]}")
    reader.join(timeout=10)
    return status, lines


def test_a_failed_final_save_on_the_main_process_ends_every_process_with_its_message(
        tmp_path: Path, scribe_home: Path) -> None:
    """A file stands where the model's parent folder goes, so only the main process's final save fails: both
    processes end within seconds with the save failure (checkpoint kept, `--resume` command), exit status 1, and
    the other process neither waits at a barrier nor dies on the closed connection with a traceback."""
    blocker = tmp_path / "models"
    output = blocker / "model"
    argv = ["train", str(_text(tmp_path)), "--output", str(output), "--processes", "2", "--preset", "tiny",
            "--tokenizer", "char", "--context", "32", "--batch-size", "4", "--max-steps", "6", "--eval-every", "3",
            "--threads", "1"]
    blocker.write_text("not a folder", encoding="utf-8")  # nothing but the end of the run writes there

    status, timed = _run_timed([sys.executable, "-m", "scribe", *argv], limit_s=LIMIT_S, cwd=REPO,
                               env=dict(os.environ, PYTHONPATH=str(REPO)))

    lines = [line for _, line in timed]
    assert status == 1, lines
    assert any(line.startswith("eval step 6:") for line in lines), lines  # it trained to the end
    job_dir = scribe_home / "data" / "jobs" / "model"
    checkpoint = job_dir / "checkpoint"
    assert load_checkpoint(checkpoint).state.step == 6
    failed = [i for i, line in enumerate(lines) if "could not be saved" in line]
    assert failed, lines
    message = "\n".join(lines[failed[-1]:])
    assert str(output) in message and f"checkpoint at step 6 in {checkpoint}" in message, lines
    printed = shlex.split(message.splitlines()[-1])
    assert printed[:2] == ["scribe", "train"] and printed[-3:] == ["--threads", "1", "--resume"], message
    assert "--processes" in printed, message
    first_error = timed[failed[0]][0]
    assert timed[-1][0] - first_error < ENDS_WITHIN_S  # the command printed its last line soon after
    log = (job_dir / "job.log").read_text(encoding="utf-8")
    assert "Connection closed" not in log and "[rank1]: Traceback" not in log, log[-3000:]
    assert _processes_of(str(tmp_path)) == []


def _pid_of_rank(launcher: int, rank: int) -> int:
    """The process id of rank `rank` among the children of torch.distributed.run (pid `launcher`)."""
    children = Path(f"/proc/{launcher}/task/{launcher}/children").read_text().split()
    for child in children:
        environ = Path(f"/proc/{child}/environ").read_bytes().split(b"\0")
        if f"RANK={rank}".encode() in environ:
            return int(child)
    raise AssertionError(f"no rank {rank} among {children}")


def test_a_process_that_stops_answering_is_given_up_after_the_timeout(tmp_path: Path, scribe_home: Path) -> None:
    """The main process is frozen (SIGSTOP) when it reports the evaluation at step 3, before it writes the checkpoint
    (it samples first; the other process is already waiting for the checkpoint): the other gives up after
    SCRIBE_DDP_TIMEOUT (3 s) with a one-line message naming the timeout, instead of waiting 30 minutes."""
    from scribe.training.events import Error
    from scribe.training.jobs import TrainingJob
    from scribe.training.trainer import TrainConfig

    config = TrainConfig(data=[str(_text(tmp_path))], output=tmp_path / "model", job_dir=tmp_path / "job",
                         preset="tiny", tokenizer="char", context=64, batch_size=4, max_steps=30, eval_every=3,
                         log_every=1, sample_tokens=60, sample_temperatures=(0.5, 0.8, 1.0, 1.2), threads=1)
    job = TrainingJob(config, processes=2).start(env=dict(os.environ, SCRIBE_DDP_TIMEOUT="3",
                                                          PYTHONPATH=str(REPO)))
    assert job.process is not None
    frozen, stopped_at, waited = None, 0.0, None
    errors: list[str] = []
    watchdog = threading.Timer(LIMIT_S, _kill_tree, [job.process.pid])  # the old code waited 30 minutes there
    watchdog.start()
    try:
        for event in job.events():
            if event.kind == "eval" and frozen is None:
                frozen = _pid_of_rank(job.process.pid, 0)
                os.kill(frozen, signal.SIGSTOP)
                stopped_at = time.monotonic()
            if isinstance(event, Error):
                errors.append(event.message)
                waited = time.monotonic() - stopped_at
                break
    finally:
        watchdog.cancel()
        if frozen is not None and job.process.poll() is None:
            os.kill(frozen, signal.SIGCONT)  # the launcher ends it
    assert job.wait(timeout=60) != 0
    assert errors and errors[0] == errors[0].strip() and "\n" not in errors[0], errors
    assert errors[0].startswith("training process 1 of 2 stopped while writing the checkpoint at step 3: no answer "
                                "from the other processes within 3 s (set SCRIBE_DDP_TIMEOUT to wait longer)"), errors
    assert waited is not None and waited < ENDS_WITHIN_S, waited
    assert _processes_of(str(tmp_path)) == []
