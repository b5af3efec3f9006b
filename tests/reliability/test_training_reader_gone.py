"""§5 The command that started a training job dies without a chance to cancel it (`kill -9` of `scribe train`): the
job, in its own session, finds its reader gone and stops the way a cancel does. The real command in a child process,
a tiny from-scratch model on a few kB of text; only the command is killed. The job writes a checkpoint at the step it
reached, records one line in job.log (no traceback) with the `--resume` command, and that command, run as printed,
continues from the saved step."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

from scribe.training.checkpoint import load_checkpoint
from scribe.training.events import Checkpoint, Saved
from scribe.training.job import EXIT_CANCELLED, EventStream, reader_gone_line

REPO = Path(__file__).resolve().parents[2]
GONE = "the command that started this job is gone ("


def _train(argv: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "scribe", *argv], cwd=REPO, stderr=subprocess.PIPE, text=True)


def _children(pid: int) -> list[int]:
    return [int(child) for task in Path(f"/proc/{pid}/task").iterdir()
            for child in (task / "children").read_text().split()]


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_killing_the_command_stops_the_job_with_a_checkpoint_and_the_resume_command(
        tmp_path: Path, scribe_home: Path) -> None:
    corpus = tmp_path / "corpus.txt"
    corpus.write_text((REPO / "tests" / "data" / "tinyshakespeare.txt").read_text(encoding="utf-8")[:8000],
                      encoding="utf-8")
    output = tmp_path / "model"
    command = _train(["train", str(corpus), "--output", str(output), "--preset", "tiny", "--tokenizer", "char",
                      "--context", "32", "--batch-size", "4", "--max-steps", "100000", "--eval-every", "100000",
                      "--checkpoint-every", "100000", "--threads", "1"])  # no checkpoint but the one a stop writes
    assert command.stderr is not None
    lines, last_step = [], 0
    for line in command.stderr:
        lines.append(line.rstrip("\n"))
        if line.startswith("step "):  # every 10 steps
            last_step = int(line.split()[1])
            break
    assert last_step, lines
    [job] = _children(command.pid)
    command.kill()  # SIGKILL to the command only; the job has its own session
    command.wait()
    deadline = time.monotonic() + 120
    while _running(job) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _running(job), "the job kept running after its command was killed"

    job_dir = scribe_home / "data" / "jobs" / "model"
    log = (job_dir / "job.log").read_text(encoding="utf-8")
    assert "Traceback" not in log and "BrokenPipeError" not in log, log
    [message] = [line for line in log.splitlines() if line.startswith(GONE)]
    assert log.rstrip("\n").endswith(message)
    step = load_checkpoint(job_dir / "checkpoint").state.step  # usable: every file reads back
    assert step >= last_step  # nothing trained before the command died is lost
    assert f"; stopped at step {step} with a checkpoint" in message, message
    printed = shlex.split(message.split("; resume with: ", 1)[1])
    assert printed[:2] == ["scribe", "train"] and printed[-1] == "--resume"

    resumed = _train(printed[1:])  # exactly the printed command
    seen = []
    assert resumed.stderr is not None
    cancelled = False
    for line in resumed.stderr:
        seen.append(line.rstrip("\n"))
        if not cancelled and line.startswith("step ") and int(line.split()[1]) > step:
            resumed.send_signal(signal.SIGINT)  # once: a second SIGINT would stop it at once (exit 75)
            cancelled = True
    assert resumed.wait() == 130, seen
    assert any(f"resuming at step {step}" in line for line in seen), seen
    steps = [int(line.split()[1]) for line in seen if line.startswith("step ")]
    assert steps and step < steps[0] <= step + 10, seen  # continues from the saved step, not from step 0


def test_the_stream_notices_a_reader_gone_between_events_and_drops_the_rest() -> None:
    """Between two events (a long step, data preparation) the watcher sees the closed pipe; later events and the
    flush at exit fail nothing."""
    read, write = os.pipe()
    out = os.fdopen(write, "w", encoding="utf-8")
    reasons: list[str] = []
    stream = EventStream(out, reasons.append, every=0.05)
    stream.emit(Checkpoint(step=3, path="checkpoint"))
    assert os.read(read, 4096) == b'{"event": "checkpoint", "step": 3, "path": "checkpoint"}\n'
    os.close(read)
    deadline = time.monotonic() + 10
    while not reasons and time.monotonic() < deadline:
        time.sleep(0.05)
    assert reasons == ["nothing reads the job's events any more"] and stream.gone == reasons[0]
    stream.emit(Saved(step=3, path="/models/m"))  # dropped, no BrokenPipeError
    out.write("still buffered")
    out.close()
    stream.close()
    assert reader_gone_line(stream, EXIT_CANCELLED, "scribe train c.txt") == (
        f"{GONE}nothing reads the job's events any more); stopped at step 3 with a checkpoint, the model trained so "
        "far saved in /models/m; resume with: scribe train c.txt --resume")
    assert reader_gone_line(stream, EXIT_CANCELLED, "scribe tui (training screen)") == (  # no command to offer
        f"{GONE}nothing reads the job's events any more); stopped at step 3 with a checkpoint in checkpoint, the model "
        "trained so far saved in /models/m")
