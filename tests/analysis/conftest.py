"""Fixtures for the analysis tests: a small random GPT-2 with several layers and heads, loaded through scribe."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

TOKENIZER_FILES = ("vocab.json", "merges.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")


@pytest.fixture(scope="session")
def tiny_dir(shared_data: Path) -> Path:
    """The shared tiny random GPT-2 (1 layer, 1 head); read-only."""
    return shared_data / "models" / "tiny-random-gpt2"


@pytest.fixture(scope="session")
def heads_dir(tmp_path_factory: pytest.TempPathFactory, tiny_dir: Path) -> Path:
    """A seeded random GPT-2 with 2 layers of 3 heads, a 48-token context and peaked distributions."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    folder = tmp_path_factory.mktemp("heads-gpt2")
    torch.manual_seed(0)
    config = GPT2Config(n_embd=24, n_layer=2, n_head=3, n_positions=48, initializer_range=0.5)
    GPT2LMHeadModel(config).save_pretrained(folder)
    for name in TOKENIZER_FILES:
        shutil.copy(tiny_dir / name, folder / name)
    return folder


@pytest.fixture(scope="session")
def heads_backend(heads_dir: Path):
    """That model loaded by scribe's transformers backend on the CPU."""
    from scribe.engine.transformers_backend import TransformersBackend

    backend = TransformersBackend.load(heads_dir, name="heads", device="cpu", dtype="float32")
    yield backend
    backend.close()
