"""Fixtures for the store tests: tiny GPT-2 models saved by transformers, and a private Hugging Face cache for each
test (the hub on 127.0.0.1 that serves them is tests/conftest.py's `hub`)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
TOKENIZER_FILES = ("vocab.json", "merges.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")


def _save_tiny_gpt2(folder: Path, **save_options) -> Path:
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    tokenizer_source = (SHARED_DATA / "models" / "tiny-random-gpt2").resolve()
    config = GPT2Config(n_embd=16, n_layer=2, n_head=2, n_positions=128, vocab_size=50257)
    torch.manual_seed(0)
    GPT2LMHeadModel(config).save_pretrained(folder, **save_options)
    for name in TOKENIZER_FILES:
        shutil.copy(tokenizer_source / name, folder / name)
    return folder


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random GPT-2 (16-dim, 2 layers, 128 positions, GPT-2 tokenizer) saved as one safetensors file."""
    return _save_tiny_gpt2(tmp_path_factory.mktemp("tiny-gpt2"))


@pytest.fixture(scope="session")
def sharded_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same tiny GPT-2 saved in shards of at most 1 MB, with a weights index."""
    return _save_tiny_gpt2(tmp_path_factory.mktemp("sharded-gpt2"), max_shard_size="1MB")


@pytest.fixture(scope="session")
def tiny_parameters(tiny_model: Path) -> int:
    """The tiny model's parameter count as transformers counts it."""
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(tiny_model).num_parameters()


@pytest.fixture(autouse=True)
def _isolated(hf_home: Path) -> None:
    """Every test gets its own Hugging Face cache, with no token and no offline switch (and its own SCRIBE_HOME, from
    tests/conftest.py); the `hub` fixture there serves repositories on 127.0.0.1."""
