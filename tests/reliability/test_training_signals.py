"""§5 A second Ctrl-C during `scribe train` stops at once: the real command in a child process, a tiny from-scratch
model on a real text, SIGINT twice; the exit status is 75, the last checkpoint loads, and the printed `--resume`
command, run as printed, continues from it."""

from __future__ import annotations

import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

from scribe.training.checkpoint import load_checkpoint

REPO = Path(__file__).resolve().parents[2]
TEXT = REPO / "tests" / "data" / "tinyshakespeare.txt"


def _train(argv: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "scribe", *argv], cwd=REPO, stderr=subprocess.PIPE, text=True)


def test_a_second_ctrl_c_stops_at_once_and_prints_the_resume_command(tmp_path: Path, scribe_home: Path) -> None:
    output = tmp_path / "model"
    process = _train(["train", str(TEXT), "--output", str(output), "--preset", "tiny", "--tokenizer", "char",
                      "--context", "32", "--batch-size", "4", "--max-steps", "100000", "--eval-every", "100000",
                      "--checkpoint-every", "10", "--threads", "1"])
    lines = []
    assert process.stderr is not None
    for line in process.stderr:  # the job runs in its own session: the command forwards each Ctrl-C to it
        lines.append(line.rstrip("\n"))
        if line.startswith("checkpoint at step 20 "):
            process.send_signal(signal.SIGINT)  # checkpoint, evaluate, sample, save...
            time.sleep(0.1)
            process.send_signal(signal.SIGINT)  # ...no: stop now
    assert process.wait() == 75, lines
    assert not any(line.startswith(("saved step", "finished (")) for line in lines), lines
    checkpoint = scribe_home / "data" / "jobs" / "model" / "checkpoint"
    step = load_checkpoint(checkpoint).state.step  # usable: every file reads back
    assert step >= 20 and not output.exists()
    assert lines[-2] == f"stopped at once; the model was not saved, the checkpoint at step {step} in {checkpoint} " \
        "is kept. Continue with:", lines
    printed = shlex.split(lines[-1])
    assert printed[:2] == ["scribe", "train"] and printed[-1] == "--resume"

    resumed = _train(printed[1:])  # exactly the printed command
    seen = []
    assert resumed.stderr is not None
    for line in resumed.stderr:
        seen.append(line.rstrip("\n"))
        if line.startswith("step ") and int(line.split()[1]) > step:
            resumed.send_signal(signal.SIGINT)
    assert resumed.wait() == 130, seen
    assert any(f"resuming at step {step}" in line for line in seen), seen
    assert (output / "model.safetensors").exists()


def test_the_exit_codes_are_in_the_help() -> None:
    shown = subprocess.run([sys.executable, "-m", "scribe", "train", "--help"], cwd=REPO, capture_output=True,
                           text=True, check=True).stdout
    for code in ("0 ", "1 ", "2 ", "75 ", "130 "):
        assert f"\n  {code}" in shown
