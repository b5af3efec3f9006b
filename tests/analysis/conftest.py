"""Fixtures for the analysis tests: a small random GPT-2 with several layers and heads, loaded through scribe."""

from __future__ import annotations

from pathlib import Path

import pytest

@pytest.fixture(scope="session")
def tiny_dir(tiny_model_dir: Path) -> Path:
    """The tiny random GPT-2 of tests/conftest.py (1 layer, 1 head); read-only."""
    return tiny_model_dir


@pytest.fixture(scope="session")
def heads_dir(tmp_path_factory: pytest.TempPathFactory, random_gpt2) -> Path:
    """A seeded random GPT-2 with 2 layers of 3 heads, a 48-token context and peaked distributions."""
    return random_gpt2(tmp_path_factory.mktemp("heads-gpt2"), n_embd=24, n_layer=2, n_head=3, n_positions=48,
                       initializer_range=0.5)


@pytest.fixture(scope="session")
def heads_backend(heads_dir: Path):
    """That model loaded by scribe's transformers backend on the CPU."""
    from scribe.engine.transformers_backend import TransformersBackend

    backend = TransformersBackend.load(heads_dir, name="heads", device="cpu", dtype="float32")
    yield backend
    backend.close()
