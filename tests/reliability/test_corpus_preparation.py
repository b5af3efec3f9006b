"""§3 A big corpus: while the data is prepared `scribe train` shows a progress line every few seconds, and the first
Ctrl-C or SIGTERM stops the preparation at once (exit 130, one line, nothing written). The real command in a child
process on a 30 MB corpus made in the test."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest



@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_preparing_a_big_corpus_shows_progress_and_stops_at_the_first_signal(
        tmp_path: Path, sig: int, train_on_copies: Callable[..., subprocess.Popen[str]]) -> None:
    output = tmp_path / "model"
    process = train_on_copies(28, "--tokenizer", "char")
    assert process.stderr is not None
    arrivals, lines = [], []
    for line in process.stderr:
        lines.append(line.rstrip("\n"))
        if line.startswith("preparing the data ("):
            arrivals.append(time.monotonic())
            if len(arrivals) == 3:
                process.send_signal(sig)
                signalled = time.monotonic()
    assert process.wait(timeout=60) == 130, lines
    assert len(arrivals) >= 3 and max(b - a for a, b in zip(arrivals, arrivals[1:])) < 5, lines
    assert time.monotonic() - signalled < 10
    assert lines[-1] == "cancelled while preparing the data; nothing was trained (run the command again to start)"
    assert not output.exists()
