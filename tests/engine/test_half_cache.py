"""A float16 key/value cache (`KVCacheSlots.use_half_cache`, what the native step keeps, as llama.cpp does): the
bundled model reads Tiny Shakespeare step by step through a float32 cache and through a float16 one, on the same
PyTorch path, and predicts the same."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from scribe.engine.transformers_backend import TransformersBackend

REPO = Path(__file__).resolve().parents[2]
BUNDLED = REPO / "models" / "scribe-gutenberg"


def stepped_logits(backend: TransformersBackend, ids: torch.Tensor, prompt: int) -> torch.Tensor:
    """The next-token logits after each of `ids`' positions from `prompt` on: the prompt prefilled, the rest stepped
    one token at a time through the cache ([len(ids) - prompt + 1, vocab])."""
    steps = backend._steps
    with torch.inference_mode():
        steps.reserve(ids.numel())
        logits = [steps.prefill(ids[:prompt])]
        logits += [steps.step(token[None]) for token in ids[prompt:]]
    return torch.stack(logits)


def test_a_float16_cache_predicts_what_a_float32_one_does(shakespeare_text: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCRIBE_NATIVE", "0")  # both on PyTorch's path: only the cache differs
    monkeypatch.setenv("SCRIBE_BLAS", "torch")
    full = TransformersBackend.load(BUNDLED, name="float32 cache", device="cpu")
    half = TransformersBackend.load(BUNDLED, name="float16 cache", device="cpu")
    half._steps.use_half_cache()
    ids = torch.tensor(full._encode(shakespeare_text[:20_000]))[: full._steps.max_positions]
    expected, got = stepped_logits(full, ids, 16), stepped_logits(half, ids, 16)
    assert full._steps.cache.dtype == torch.float32 and half._steps.cache.dtype == torch.float16
    assert half._steps.cache.nbytes * 2 == full._steps.cache.nbytes
    targets = ids[16:]
    losses = [F.cross_entropy(logits[:-1], targets).item() for logits in (expected, got)]
    probabilities = (expected.softmax(-1) - got.softmax(-1)).abs().max().item()
    agreement = (expected.argmax(-1) == got.argmax(-1)).float().mean().item()
    assert not torch.equal(expected, got), "the float16 cache rounds what it keeps"
    # measured: 1,008 positions, the same most likely token at each, probabilities 9.8e-4 apart at most, the mean loss
    # 2e-5 nats apart (a perplexity of 125.4 either way)
    assert agreement >= 0.99 and probabilities < 5e-3
    assert losses[1] == pytest.approx(losses[0], abs=1e-3)


def test_only_a_float32_model_on_the_cpu_keeps_a_float16_cache(sharp_model_dir: Path) -> None:
    backend = TransformersBackend.load(sharp_model_dir, device="cpu", dtype="bfloat16")
    with pytest.raises(ValueError, match=r"^a float16 cache is for float32 models on the CPU, not torch.bfloat16 on "):
        backend._steps.use_half_cache()
    assert not backend._steps.half_cache
