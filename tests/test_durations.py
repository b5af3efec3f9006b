"""One helper writes every duration people read: the training bar and screen, evaluation progress, downloads."""

from __future__ import annotations

import io
import math

import pytest

from scribe.durations import UNKNOWN, format_duration


@pytest.mark.parametrize(("seconds", "shown"), [
    (0, "00:00"), (0.4, "00:00"), (5, "00:05"), (59.99, "00:59"), (60, "01:00"), (78.9, "01:18"), (599, "09:59"),
    (3599, "59:59"), (3600, "1:00:00"), (3725, "1:02:05"), (90_000, "25:00:00"),
])
def test_minutes_and_seconds_then_hours(seconds: float, shown: str) -> None:
    assert format_duration(seconds) == shown


@pytest.mark.parametrize("seconds", [-1.0, math.inf, math.nan])
def test_an_unknown_duration_says_so(seconds: float) -> None:
    assert format_duration(seconds) == UNKNOWN == "--:--"


def test_the_faces_write_durations_with_it() -> None:
    from scribe.commands.eval import EvalProgress
    from scribe.commands.train import Display, progress_bar
    from scribe.store.hub import DownloadProgress
    from scribe.training.events import Finished, Preparing, Step

    assert progress_bar(10, 20, 2.0, 100.0, 3725.0).endswith("eta 1:02:05")
    out = io.StringIO()
    display = Display(as_json=False, stream=out)
    display(Preparing("tokenising", 65.0))
    display(Step(step=5, loss=2.0, lr=1e-3, tokens_per_s=100.0, elapsed_s=125.0, eta_s=61.0))
    display(Finished(reason="max_steps", steps=5, tokens=500, elapsed_s=3600.0, val_loss=None, perplexity=None,
                     bits_per_char=None, path=""))
    lines = out.getvalue().splitlines()
    assert lines[0] == "preparing the data (01:05): tokenising"
    assert "elapsed 02:05  eta 01:01" in lines[1]
    assert "500 tokens in 1:00:00;" in lines[2]

    download = DownloadProgress(repo_id="r", filename="f", done_bytes=1, total_bytes=2, files_done=0, files_total=1,
                                bytes_per_s=1.0, eta_s=3725.0)
    assert "ETA 1:02:05" in download.describe()

    stream = io.StringIO()
    progress = EvalProgress(stream)
    progress.begin("tiny")
    progress.started -= 30.0
    progress.progress(100, 0.5)
    assert "00:30 elapsed · ETA 00:30" in stream.getvalue()
