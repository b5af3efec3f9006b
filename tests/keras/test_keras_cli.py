"""`scribe train --arch ...` and `scribe generate` with a Keras model, end to end in subprocesses."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from scribe.store.catalog import list_models
from scribe.training.events import Finished, Started, parse_event

REPO = Path(__file__).resolve().parents[2]


def scribe(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "scribe", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=300)


def test_train_a_keras_model_list_it_and_generate_with_it(shakespeare_slice: Path, scribe_home: Path) -> None:
    result = scribe("train", str(shakespeare_slice), "--arch", "word-lstm", "--preset", "tiny", "--name", "bard",
                    "--max-steps", "3", "--json")
    assert result.returncode == 0, result.stderr
    events = [parse_event(line) for line in result.stdout.splitlines()]
    assert isinstance(events[0], Started) and events[0].preset == "word-lstm-tiny" and events[0].context == 16
    assert [e.kind for e in events].count("sample") == 5
    assert isinstance(events[-1], Finished) and events[-1].steps == 3
    folder = scribe_home / "data" / "models" / "bard"
    assert (folder / "model.keras").is_file() and events[-1].path == str(folder)

    [entry] = [e for e in list_models(offered=False) if e.name == "bard"]
    assert entry.kind == "keras" and entry.usable and entry.source == "scribe"

    generated = scribe("generate", "-m", "bard", "-p", "First Citizen:", "--max-new-tokens", "8", "--seed", "5")
    assert generated.returncode == 0, generated.stderr
    assert generated.stdout.strip() and generated.stderr.startswith("[8 tokens, ")  # nothing from TensorFlow


def test_train_refuses_a_corpus_too_short_with_one_line(tmp_path: Path) -> None:
    short = tmp_path / "short.txt"
    short.write_text("To be, or not to be: that is the question.\n\n" * 150, encoding="utf-8")
    result = scribe("train", str(short), "--arch", "char-lstm", "--preset", "tiny", "--context", "20000",
                    "--output", str(tmp_path / "out"))
    assert result.returncode == 1
    assert "corpus too short" in result.stderr and "sequence length of 20,000" in result.stderr
    assert "Traceback" not in result.stderr


def test_interrupt_saves_and_resume_continues(shakespeare_slice: Path, tmp_path: Path) -> None:
    output = tmp_path / "bard"
    command = [sys.executable, "-m", "scribe", "train", str(shakespeare_slice), "--arch", "char-lstm", "--preset",
               "tiny", "--output", str(output), "--max-steps", "100000", "--eval-every", "100000", "--json"]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    events = []
    for line in process.stdout:
        events.append(parse_event(line))
        if events[-1].kind == "step" and len(events) == 2:
            process.send_signal(signal.SIGINT)  # what Ctrl-C does: the job checkpoints, saves and stops
    assert process.wait(timeout=120) == 130, process.stderr.read()
    finished = events[-1]
    assert isinstance(finished, Finished) and finished.reason == "interrupted" and finished.steps >= 10
    assert "saved" in [e.kind for e in events] and (output / "model.keras").is_file()

    resumed = scribe("train", str(shakespeare_slice), "--arch", "char-lstm", "--preset", "tiny", "--output",
                     str(output), "--max-steps", str(finished.steps + 2), "--resume", "--json")
    assert resumed.returncode == 0, resumed.stderr
    again = [parse_event(line) for line in resumed.stdout.splitlines()]
    assert isinstance(again[0], Started) and again[0].resumed_from == finished.steps
    assert isinstance(again[-1], Finished) and again[-1].steps == finished.steps + 2
