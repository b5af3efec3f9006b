"""Fixtures for the engine tests: a sharper tiny GPT-2 with a 64-token context (the tiny model, the tokenizer and
`random_gpt2` come from tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def sharp_model_dir(tmp_path_factory: pytest.TempPathFactory, random_gpt2) -> Path:
    """A random GPT-2 with peaked distributions (wide init) and a 64-token context, saved as safetensors."""
    folder = tmp_path_factory.mktemp("sharp-gpt2")
    return random_gpt2(folder, n_embd=32, n_layer=2, n_head=2, n_positions=64, initializer_range=0.5)


@pytest.fixture(scope="session")
def sharp_backend(sharp_model_dir: Path):
    """The sharp model loaded through scribe's transformers backend (shared: loading costs a second)."""
    from scribe.engine.transformers_backend import TransformersBackend

    return TransformersBackend.load(sharp_model_dir, name="sharp", device="cpu")


@pytest.fixture(scope="session")
def float32_cache_backend(sharp_model_dir: Path):
    """The sharp model stepped by PyTorch with a float32 key/value cache: transformers' numbers to the last digits,
    as the reference for scribe's own step (the native step rounds its cache to float16: `test_half_cache`)."""
    from scribe.engine.transformers_backend import TransformersBackend

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SCRIBE_NATIVE", "0")
        backend = TransformersBackend.load(sharp_model_dir, name="sharp", device="cpu")
    assert not backend._steps.half_cache
    return backend


@pytest.fixture(scope="session")
def sharp_hf_model(sharp_model_dir: Path):
    """The same sharp model loaded by plain transformers, as the reference."""
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(sharp_model_dir).eval()


@pytest.fixture(scope="session")
def llama_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Llama (grouped-query attention) with its tokenizer (`tiny_models.save_tiny_llama`)."""
    from tiny_models import save_tiny_llama

    return save_tiny_llama(tmp_path_factory.mktemp("llama"))
