"""`scribe train --arch ...` (its job process, Ctrl-C, --resume) and `scribe generate` with a Keras model, end to end
in subprocesses."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from scribe.engine.keras_backend import LOADING_NOTICE
from scribe.store.catalog import list_models
from scribe.training.events import Finished, Started, parse_event

REPO = Path(__file__).resolve().parents[2]


def scribe(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "scribe", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=300)


def test_train_interrupt_resume_list_and_generate(shakespeare_slice: Path, scribe_home: Path) -> None:
    train = ["train", str(shakespeare_slice), "--arch", "word-lstm", "--preset", "tiny", "--name", "bard", "--json"]
    process = subprocess.Popen([sys.executable, "-m", "scribe", *train, "--max-steps", "100000", "--eval-every",
                                "100000"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    events = []
    for line in process.stdout:
        events.append(parse_event(line))
        if events[-1].kind == "step" and len(events) == 2:
            process.send_signal(signal.SIGINT)  # what Ctrl-C does: the job stops after this step and saves
    assert process.wait(timeout=120) == 130, process.stderr.read()
    started, finished = events[0], events[-1]
    assert isinstance(started, Started) and started.preset == "word-lstm-tiny" and started.context == 16
    assert isinstance(finished, Finished) and finished.reason == "interrupted" and finished.steps >= 10
    assert [e.kind for e in events].count("sample") == 5
    folder = scribe_home / "data" / "models" / "bard"
    assert (folder / "model.keras").is_file() and finished.path == str(folder)

    resumed = scribe(*train, "--max-steps", str(finished.steps + 2), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    again = [parse_event(line) for line in resumed.stdout.splitlines()]
    assert isinstance(again[0], Started) and again[0].resumed_from == finished.steps
    assert isinstance(again[-1], Finished) and again[-1].steps == finished.steps + 2

    [entry] = [e for e in list_models(offered=False) if e.name == "bard"]
    assert entry.kind == "keras" and entry.usable and entry.source == "scribe"
    generated = scribe("generate", "-m", "bard", "-p", "First Citizen:", "--max-new-tokens", "8", "--seed", "5")
    assert generated.returncode == 0, generated.stderr
    notice, stats = [line for line in generated.stderr.splitlines() if line]  # nothing from TensorFlow
    assert notice == LOADING_NOTICE and stats.startswith("[8 tokens, ") and generated.stdout.strip()


def test_train_refuses_a_corpus_too_short_with_one_line(tmp_path: Path) -> None:
    short = tmp_path / "short.txt"
    short.write_text("To be, or not to be: that is the question.\n\n" * 150, encoding="utf-8")
    result = scribe("train", str(short), "--arch", "char-lstm", "--preset", "tiny", "--context", "20000",
                    "--output", str(tmp_path / "out"))
    assert result.returncode == 1
    assert "corpus too short" in result.stderr and "sequence length of 20,000" in result.stderr
    assert "Traceback" not in result.stderr


def test_generate_says_tensorflow_is_loading_before_the_first_token(trained: dict[str, Path]) -> None:
    process = subprocess.Popen([sys.executable, "-m", "scribe", "generate", "-m", str(trained["char-lstm"]), "-p",
                                "ROMEO:", "--max-new-tokens", "4", "--seed", "1"], cwd=REPO, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    first = process.stderr.readline()  # written before the worker starts TensorFlow
    assert first == LOADING_NOTICE + "\n"
    out, rest = process.communicate(timeout=300)
    assert process.returncode == 0, rest
    assert out and rest.lstrip("\n").startswith("[4 tokens, "), rest
