"""Long evaluations say what they are doing and can be stopped: `scribe eval` writes its progress to stderr and keeps
`--json` stdout clean (on a pipe and on a terminal), and the TUI's evaluation view stops at once on escape or ctrl+q,
even in the middle of a model."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from rich.console import Console
from textual.widgets import Static

from scribe.config import Settings
from scribe.sampling.params import SamplingParams
from scribe.ui.app import ScribeApp

SIZE = (120, 40)


def scribe_eval(*args: str, stderr: int = subprocess.PIPE) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.run([sys.executable, "-m", "scribe", "eval", *args], stdout=subprocess.PIPE, stderr=stderr,
                          text=True, env=env, timeout=300)


def test_eval_shows_progress_on_stderr_and_keeps_json_stdout_clean(tiny_model_dir: Path, tmp_path: Path,
                                                                   shakespeare_text: str) -> None:
    text = tmp_path / "play.txt"
    text.write_text(shakespeare_text[:30_000], encoding="utf-8")
    done = scribe_eval(str(text), "-m", str(tiny_model_dir), "--json", "--speed-tokens", "4")
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]  # every stdout line is a JSON row
    assert len(rows) == 1 and rows[0]["tokens"] > 5_000
    err = done.stderr
    assert f"loading {tiny_model_dir}…" in err
    assert f"{tiny_model_dir}: " in err and "tokens scored ·" in err and "ETA" in err  # the first update is shown
    assert f"{tiny_model_dir}: {rows[0]['tokens']:,} tokens scored in 00:" in err  # and the end, with its time
    assert "\r" not in err  # not a terminal: plain lines


def test_eval_redraws_one_progress_line_on_a_terminal(tiny_model_dir: Path, tmp_path: Path,
                                                      shakespeare_text: str) -> None:
    text = tmp_path / "play.txt"
    text.write_text(shakespeare_text[:30_000], encoding="utf-8")
    leader, follower = pty.openpty()
    chunks: list[bytes] = []

    def read() -> None:
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:
                return
            if not chunk:
                return
            chunks.append(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        done = scribe_eval(str(text), "-m", str(tiny_model_dir), "--json", "--speed-tokens", "0", stderr=follower)
    finally:
        os.close(follower)
        reader.join(5)
        os.close(leader)
    assert done.returncode == 0
    assert json.loads(done.stdout)["tokens"] > 5_000
    err = b"".join(chunks).decode()
    assert err.count("\r\x1b[K") > 1 and "tokens scored ·" in err  # the line is redrawn in place
    assert re.fullmatch(rf"{re.escape(str(tiny_model_dir))}: [\d,]+ tokens scored in \d+:\d\d",
                        err.rstrip().split("\r\x1b[K")[-1])  # and ends with the total


def plain(app: ScribeApp, selector: str) -> str:
    console = Console(width=SIZE[0], color_system=None, record=True)
    console.print(app.screen.query_one(selector, Static).content)
    return console.export_text()


@pytest.fixture(scope="module")
def slow_model(tmp_path_factory: pytest.TempPathFactory, random_gpt2) -> Path:  # noqa: ANN001
    """A random GPT-2 big enough that scoring Tiny Shakespeare takes many seconds on a CPU."""
    return random_gpt2(tmp_path_factory.mktemp("slow") / "slow-gpt2", n_layer=2, n_head=2, n_embd=128,
                       n_positions=1024)


async def start_slow_evaluation(app: ScribeApp, pilot, model: Path, text: Path):  # noqa: ANN001, ANN201
    """Open the evaluation view, start scoring `text` and wait until tokens are being scored (mid-model)."""
    from scribe.ui.screens.evaluation import EvaluationScreen

    await pilot.press("alt+v")
    screen = app.screen
    assert isinstance(screen, EvaluationScreen)
    screen.query_one("#eval-models").value = str(model)
    screen.query_one("#eval-files").value = str(text)
    screen.query_one("#eval-speed").value = "0"
    await pilot.press("enter")
    for _ in range(1200):
        await pilot.pause(0.05)
        if "tokens scored" in plain(app, "#eval-status"):
            return screen
    raise AssertionError(f"scoring never started: {plain(app, '#eval-status')}")


def scoring_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("evaluate ")]


async def test_escape_stops_the_evaluation_mid_model_and_a_second_escape_closes(slow_model: Path, tmp_path: Path,
                                                                                shakespeare_text: str) -> None:
    from scribe.ui.screens.evaluation import EvaluationScreen

    text = tmp_path / "shakespeare.txt"
    text.write_text(shakespeare_text, encoding="utf-8")
    app = ScribeApp(settings=Settings(model=str(slow_model), device="cpu", dtype="float32",
                                      autosave_seconds=3600.0, sampling=SamplingParams(max_new_tokens=4)))
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        screen = await start_slow_evaluation(app, pilot, slow_model, text)
        assert screen.running and "%" in plain(app, "#eval-status")
        pressed = time.monotonic()
        await pilot.press("escape")
        for _ in range(100):
            await pilot.pause(0.02)
            if not screen.running:
                break
        stopped_in = time.monotonic() - pressed
        assert not screen.running and stopped_in < 2.0, stopped_in
        assert plain(app, "#eval-status").startswith("stopped · 0 model(s) scored")
        assert screen.rows == []
        await app.workers.wait_for_complete()  # the Textual worker has returned
        deadline = time.monotonic() + 5
        while scoring_threads() and time.monotonic() < deadline:  # the scoring thread ends at its next window
            await pilot.pause(0.05)
        assert scoring_threads() == []
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, EvaluationScreen)


def test_ctrl_q_quits_at_once_in_the_middle_of_a_model(slow_model: Path, tmp_path: Path,
                                                        shakespeare_text: str) -> None:
    import asyncio

    text = tmp_path / "shakespeare.txt"
    text.write_text(shakespeare_text, encoding="utf-8")
    app = ScribeApp(settings=Settings(model=str(slow_model), device="cpu", dtype="float32",
                                      autosave_seconds=3600.0, sampling=SamplingParams(max_new_tokens=4)))

    async def scenario() -> float:
        async with app.run_test(size=SIZE) as pilot:
            await app.workers.wait_for_complete()
            await start_slow_evaluation(app, pilot, slow_model, text)
            pressed = time.monotonic()
            await pilot.press("ctrl+q")
            for _ in range(100):
                if app.return_code is not None:
                    break
                await pilot.pause(0.02)
            assert app.return_code == 0  # ctrl+q itself quit the studio (its text is unchanged: no question)
        return pressed

    pressed = asyncio.run(scenario())
    assert time.monotonic() - pressed < 3.0, time.monotonic() - pressed
    deadline = time.monotonic() + 5
    while scoring_threads() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert scoring_threads() == []
