"""Fixtures for the TUI tests: settings that load the tiny real model, and a helper to read notifications."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from textual.app import App
from textual.notifications import Notification

from scribe.config import Settings
from scribe.sampling.params import SamplingParams
from scribe.ui import textual_private


@pytest.fixture
def tiny_model(tiny_model_dir: Path) -> Path:
    """A real GPT-2 folder with random weights (tests/conftest.py's): it generates noise, quickly."""
    return tiny_model_dir


@pytest.fixture
def settings(tiny_model: Path) -> Settings:
    """The tiny model on the CPU, a fixed seed, a short continuation, and no timer autosaves during a test."""
    return Settings(model=str(tiny_model), device="cpu", dtype="float32", autosave_seconds=3600.0,
                    sampling=SamplingParams(max_new_tokens=8, seed=7))


@pytest.fixture(scope="session")
def long_context_model(tmp_path_factory: pytest.TempPathFactory, random_gpt2) -> Path:
    """A tiny random GPT-2 with a 16k context that never chooses end-of-text, so a continuation outlasts any pilot
    typing on a fast machine.

    End-of-text is ruled out by its logit: the final layer norm's bias is set to `b` and the (tied) embedding row of
    end-of-text to `-b`; a layer norm's output sums to zero, so that logit is `-|b|**2` (-400) at every position while
    every other token's stays near zero."""
    import torch
    from transformers import GPT2LMHeadModel

    folder = random_gpt2(tmp_path_factory.mktemp("long-context"), n_layer=1, n_head=1, n_embd=4, n_positions=16_384)
    model = GPT2LMHeadModel.from_pretrained(folder)
    with torch.no_grad():
        model.transformer.ln_f.bias.fill_(10.0)
        model.transformer.wte.weight[model.config.eos_token_id] = -model.transformer.ln_f.bias
    model.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def hub_model(tmp_path_factory: pytest.TempPathFactory, random_gpt2, shakespeare_text: str) -> Path:
    """A random GPT-2 for the download tests, whose files the test hub can pace or cut mid-way. A download writes 1 MB
    at a time, so the tokenizer (a 20,000-token BPE trained by scribe on Tiny Shakespeare) is over 1 MB and is seen
    half-written, while the weights (1 layer, 8 wide, 1,024 positions) are 680 kB and are not."""
    from scribe.training.bpe import train_bpe
    from scribe.training.corpus import Document

    tokenizer_dir = tmp_path_factory.mktemp("hub-tokenizer")
    tokenizer = train_bpe([Document(Path("tinyshakespeare.txt"), shakespeare_text)], vocab_size=20_000)
    tokenizer.save_pretrained(tokenizer_dir)
    return random_gpt2(tmp_path_factory.mktemp("hub-gpt2"), tokenizer_dir, n_layer=1, n_head=2, n_embd=8,
                       n_positions=1024)


def notifications(app: App) -> list[Notification]:
    """The notifications the app is showing."""
    return textual_private.notifications(app)


@pytest.fixture
def errors() -> Callable[[App], list[str]]:
    """A function giving the messages of the error notifications an app is showing."""
    return lambda app: [n.message for n in notifications(app) if n.severity == "error"]
