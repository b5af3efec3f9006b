"""Fixtures for the engine tests: the shared tiny GPT-2, and a sharper tiny GPT-2 with a 64-token context."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
TOKENIZER_FILES = ("vocab.json", "merges.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")


@pytest.fixture(scope="session")
def tiny_model_dir() -> Path:
    """The shared tiny random GPT-2 (2-dim embeddings, real GPT-2 tokenizer); read-only."""
    return (SHARED_DATA / "models" / "tiny-random-gpt2").resolve()


def save_random_gpt2(folder: Path, tokenizer_dir: Path, **config: object) -> Path:
    """Save a seeded random GPT-2 (config: GPT2Config fields) with the GPT-2 tokenizer files from `tokenizer_dir`."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    GPT2LMHeadModel(GPT2Config(**config)).save_pretrained(folder)
    for name in TOKENIZER_FILES:
        shutil.copy(tokenizer_dir / name, folder / name)
    return folder


@pytest.fixture(scope="session")
def random_gpt2():
    """`save_random_gpt2`, for tests that need a model folder of their own."""
    return save_random_gpt2


@pytest.fixture(scope="session")
def sharp_model_dir(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Path:
    """A random GPT-2 with peaked distributions (wide init) and a 64-token context, saved as safetensors."""
    folder = tmp_path_factory.mktemp("sharp-gpt2")
    return save_random_gpt2(
        folder, tiny_model_dir, n_embd=32, n_layer=2, n_head=2, n_positions=64, initializer_range=0.5
    )


@pytest.fixture(scope="session")
def sharp_backend(sharp_model_dir: Path):
    """The sharp model loaded through scribe's transformers backend (shared: loading costs a second)."""
    from scribe.engine.transformers_backend import TransformersBackend

    return TransformersBackend.load(sharp_model_dir, name="sharp", device="cpu")


@pytest.fixture(scope="session")
def sharp_hf_model(sharp_model_dir: Path):
    """The same sharp model loaded by plain transformers, as the reference."""
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(sharp_model_dir).eval()


@pytest.fixture(autouse=True)
def _scribe_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own SCRIBE_HOME."""
    home = tmp_path / "scribe-home"
    monkeypatch.setenv("SCRIBE_HOME", str(home))
    return home
