"""`scribe train` end to end in a subprocess: JSON events, the default output location, the one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from scribe.training.events import Finished, parse_event

pytestmark = pytest.mark.slow  # training runs in child processes

REPO = Path(__file__).resolve().parents[2]


def scribe(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "scribe", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture
def slice_file(shakespeare_text: str, tmp_path: Path) -> Path:
    path = tmp_path / "slice.txt"
    path.write_text(shakespeare_text[:100_000])
    return path


def test_train_json_end_to_end(slice_file: Path, scribe_home: Path) -> None:
    args = ["train", str(slice_file), "--name", "bard", "--preset", "tiny", "--vocab-size", "300", "--context", "32",
            "--batch-size", "4", "--max-steps", "20", "--eval-every", "10", "--warmup", "2", "--json"]
    result = scribe(*args)
    assert result.returncode == 0, result.stderr
    events = [parse_event(line) for line in result.stdout.splitlines()]
    kinds = [e.kind for e in events if e.kind != "preparing"]  # progress while preparing, on a slow machine
    assert kinds[0] == "started" and kinds[-1] == "finished" and kinds.count("saved") == 1
    assert kinds.count("checkpoint") == 2  # at step 10 and at the end
    finished = events[-1]
    assert isinstance(finished, Finished) and finished.steps == 20 and finished.reason == "max_steps"
    model = scribe_home / "data" / "models" / "bard"
    assert finished.path == str(model) and (model / "model.safetensors").exists()
    card = (model / "README.md").read_text(encoding="utf-8")
    assert "scribe " + " ".join([args[0], slice_file.name, *args[2:]]) in card  # the data file by its name only
    assert str(slice_file.parent) not in card

    again = scribe(*args)
    assert again.returncode == 1 and again.stderr.strip().splitlines() == [
        f"scribe: error: {model} already exists (use --overwrite to replace it, or --name/--output)"
    ]


def test_progress_lines_on_stderr(slice_file: Path, tmp_path: Path) -> None:
    result = scribe("train", str(slice_file), "--output", str(tmp_path / "out"), "--preset", "tiny", "--vocab-size",
                    "300", "--context", "32", "--batch-size", "4", "--max-steps", "10", "--eval-every", "100")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    lines = [line for line in result.stderr.splitlines() if not line.startswith("preparing the data (")]
    assert lines[0].startswith("training tiny (")
    assert any(line.startswith("step     10  loss ") and "tok/s" in line and "eta" in line for line in lines)
    assert any(line.startswith("eval step 10: val loss ") and "bits/char" in line for line in lines)
    assert lines[-1].startswith("finished (max_steps): 10 steps") and lines[-1].endswith(str(tmp_path / "out"))


def test_empty_corpus_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_bytes(b"")
    result = scribe("train", str(tmp_path / "empty.txt"), "--output", str(tmp_path / "out"))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [f"scribe: error: no usable text in the corpus: {tmp_path / 'empty.txt'}: empty file"]
    assert not (tmp_path / "out").exists()

    as_json = scribe("train", str(tmp_path / "nothing-*.txt"), "--output", str(tmp_path / "out"), "--json")
    assert as_json.returncode == 1
    [error] = [parse_event(line) for line in as_json.stdout.splitlines()]
    assert error.kind == "error" and "no usable text" in error.message
