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


@pytest.fixture(scope="session")
def long_context_model(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Path:
    """A tiny random GPT-2 with a 16k context, so a continuation outlasts any pilot typing on a fast machine."""
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

    folder = tmp_path_factory.mktemp("long-context")
    config = GPT2Config(n_layer=1, n_head=1, n_embd=4, n_positions=16_384, vocab_size=50_257)
    GPT2LMHeadModel(config).save_pretrained(folder)
    AutoTokenizer.from_pretrained(shared_data / "models" / "tiny-random-gpt2").save_pretrained(folder)
    return folder


def notifications(app: App) -> list[Notification]:
    """The notifications the app is showing."""
    return list(app._notifications)


@pytest.fixture
def errors() -> Callable[[App], list[str]]:
    """A function giving the messages of the error notifications an app is showing."""
    return lambda app: [n.message for n in notifications(app) if n.severity == "error"]
