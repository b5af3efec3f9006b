"""Fixtures for the store tests: tiny GPT-2 models saved by transformers, and a private Hugging Face cache for each
test (the hub on 127.0.0.1 that serves them is tests/conftest.py's `hub`)."""

from __future__ import annotations

from pathlib import Path

import pytest

TINY_CONFIG = {"n_embd": 128, "n_layer": 2, "n_head": 2, "n_positions": 128}
"""2.1 MB of weights: big enough for the download tests to cut a transfer off after 1.2 MB."""


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory, random_gpt2) -> Path:
    """A tiny random GPT-2 (128-dim, 2 layers, 128 positions, the tiny tokenizer) saved as one safetensors file."""
    return random_gpt2(tmp_path_factory.mktemp("tiny-gpt2"), **TINY_CONFIG)


@pytest.fixture(scope="session")
def sharded_model(tmp_path_factory: pytest.TempPathFactory, random_gpt2) -> Path:
    """The same tiny GPT-2 saved in shards of at most 500 kB, with a weights index."""
    return random_gpt2(tmp_path_factory.mktemp("sharded-gpt2"), **TINY_CONFIG, save_options={"max_shard_size": "500kB"})


@pytest.fixture(scope="session")
def tiny_parameters(tiny_model: Path) -> int:
    """The tiny model's parameter count as transformers counts it."""
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(tiny_model).num_parameters()


@pytest.fixture(autouse=True)
def _isolated(hf_home: Path) -> None:
    """Every test gets its own Hugging Face cache, with no token and no offline switch (and its own SCRIBE_HOME, from
    tests/conftest.py); the `hub` fixture there serves repositories on 127.0.0.1."""
