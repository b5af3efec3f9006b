"""Fixtures for the TUI tests: settings that load the tiny real model, and a helper to read notifications."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from textual.app import App
from textual.notifications import Notification

from scribe.config import Settings
from scribe.sampling.params import SamplingParams


@pytest.fixture
def tiny_model(shared_data: Path) -> Path:
    """A real GPT-2 folder with random weights: it generates noise, quickly."""
    return shared_data / "models" / "tiny-random-gpt2"


@pytest.fixture
def settings(tiny_model: Path) -> Settings:
    """The tiny model on the CPU, a fixed seed, a short continuation, and no timer autosaves during a test."""
    return Settings(model=str(tiny_model), device="cpu", dtype="float32", autosave_seconds=3600.0,
                    sampling=SamplingParams(max_new_tokens=8, seed=7))


def notifications(app: App) -> list[Notification]:
    """The notifications the app is showing."""
    return list(app._notifications)


@pytest.fixture
def errors() -> Callable[[App], list[str]]:
    """A function giving the messages of the error notifications an app is showing."""
    return lambda app: [n.message for n in notifications(app) if n.severity == "error"]
