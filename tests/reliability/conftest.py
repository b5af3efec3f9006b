"""Fixtures for the reliability tests: settings that load no model (the studio opens at once), notifications, and the
real `scribe train` started on a big generated corpus."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.app import App

from scribe.config import Settings

SIZE = (110, 32)
REPO = Path(__file__).resolve().parents[2]
TEXT = REPO / "tests" / "data" / "tinyshakespeare.txt"


@pytest.fixture
def settings() -> Settings:
    """A model that does not exist (nothing heavy is imported) and no timer autosaves during a test."""
    return Settings(model="/nonexistent/reliability-model", device="cpu", dtype="float32", autosave_seconds=3600.0)


@pytest.fixture
def messages() -> Callable[[App], list[str]]:
    """A function giving the messages of the notifications an app is showing."""
    return lambda app: [n.message for n in app._notifications]


@pytest.fixture
def train_on_copies(tmp_path: Path) -> Callable[..., subprocess.Popen[str]]:
    """A function starting the real `scribe train` (tiny preset, one step, output `tmp_path/model`, stderr piped) on
    `tmp_path/big.txt`: Tiny Shakespeare `copies` times (1.1 MB each, numbered), with `extra` arguments."""

    def start(copies: int, *extra: str) -> subprocess.Popen[str]:
        corpus = tmp_path / "big.txt"
        text = TEXT.read_text(encoding="utf-8")
        with open(corpus, "w", encoding="utf-8") as out:
            for n in range(copies):
                out.write(f"{n}. {text}\n\n")
        return subprocess.Popen(
            [sys.executable, "-m", "scribe", "train", str(corpus), "--output", str(tmp_path / "model"), "--preset",
             "tiny", "--context", "32", "--batch-size", "4", "--max-steps", "1", "--threads", "1", *extra],
            cwd=REPO, stderr=subprocess.PIPE, text=True)

    return start
