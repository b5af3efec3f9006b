"""§3 The first Ctrl-C is honoured in every stage of data preparation, not only while tokenising: while the corpus is
read and cleaned (a piece at a time) and while a BPE tokenizer is trained (a native call, in a child process that the
job waits on in short steps and kills when cancelled). The real `scribe train` in a child process on a 60 MB corpus made in the test:
exit 130 within 10 s (most of it the exit of a process that imported torch, on a busy machine), the one-line
message, no model, and no temporary copy of the text left in the job folder."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest



@pytest.mark.parametrize("stage", ["reading big.txt", "training a tokenizer"])
def test_ctrl_c_stops_data_preparation_at_once_in_every_stage(tmp_path: Path, stage: str,
                                                             train_on_copies: Callable[..., subprocess.Popen[str]]) -> None:
    output = tmp_path / "model"
    process = train_on_copies(55, "--vocab-size", "4096")
    assert process.stderr is not None
    lines: list[str] = []
    signalled = None
    for line in process.stderr:
        lines.append(line.rstrip("\n"))
        if signalled is None and line.startswith("preparing the data (") and stage in line:
            process.send_signal(signal.SIGINT)
            signalled = time.monotonic()
    assert process.wait(timeout=120) == 130, lines
    assert signalled is not None and time.monotonic() - signalled < 10, lines
    assert lines[-1] == "cancelled while preparing the data; nothing was trained (run the command again to start)"
    assert not output.exists()
    assert not list(Path(os.environ["SCRIBE_HOME"]).rglob(".corpus-*"))
