"""Scoring a text (the perplexity lens) with the tiny real GPT-2: pieces, log-probabilities, long texts."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from scribe.engine.base import Backend
from scribe.engine.scoring import score_causal_lm


@pytest.fixture(scope="module")
def backend(tiny_model_dir: Path) -> Backend:
    from scribe.engine.registry import load_model

    return load_model(str(tiny_model_dir), device="cpu", dtype="float32")


def test_the_pieces_add_up_to_the_text_and_match_the_token_count(backend: Backend) -> None:
    text = "Café naïve — 日本語 🙂\n\n  spaced  out"
    scores = backend.score(text)
    assert "".join(s.text for s in scores) == text
    assert len(scores) == backend.count_tokens(text)
    assert all(s.logprob <= 0 for s in scores)
    assert backend.score("") == []


def test_log_probabilities_follow_the_definition(backend: Backend) -> None:
    import torch

    model, tokenizer = backend._model, backend._tokenizer  # type: ignore[attr-defined]
    text = "The cat sat on the mat."
    ids = [tokenizer.bos_token_id, *tokenizer(text)["input_ids"]]
    with torch.inference_mode():
        logits = model(input_ids=torch.tensor([ids])).logits[0].float()
    expected = [logits[i].log_softmax(-1)[ids[i + 1]].item() for i in range(len(ids) - 1)]
    got = [s.logprob for s in backend.score(text)]
    assert got == pytest.approx(expected, abs=1e-5)
    ppl = math.exp(-sum(got) / len(got))
    assert ppl > 1


def test_a_text_longer_than_the_context_is_scored_in_overlapping_windows(backend: Backend) -> None:
    model, tokenizer = backend._model, backend._tokenizer  # type: ignore[attr-defined]
    text = " ".join(f"word{i}" for i in range(40))
    whole = score_causal_lm(model, tokenizer, text, context_length=1024)
    windowed = score_causal_lm(model, tokenizer, text, context_length=16)
    assert len(windowed) == len(whole) and "".join(s.text for s in windowed) == text
    assert [s.logprob for s in windowed[:15]] == pytest.approx([s.logprob for s in whole[:15]], abs=1e-5)
