"""The transformers backend's own decode loop, checked against plain transformers on real tiny models."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import torch

from scribe.engine.base import StreamEnd, TokenStep
from scribe.engine.transformers_backend import TransformersBackend
from scribe.sampling.params import SamplingParams

PROMPT = "The old lighthouse keeper looked at the sea and"


def run(backend: TransformersBackend, prompt: str, params: SamplingParams, **kwargs) -> tuple[list[TokenStep], StreamEnd]:
    events = list(backend.stream(prompt, params, **kwargs))
    steps, end = events[:-1], events[-1]
    assert all(isinstance(step, TokenStep) for step in steps)
    assert isinstance(end, StreamEnd)
    return steps, end


def test_info_describes_the_loaded_model(sharp_backend: TransformersBackend, sharp_hf_model, sharp_model_dir) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(sharp_model_dir)
    info = sharp_backend.info
    assert (info.name, info.backend, info.device, info.dtype) == ("sharp", "transformers", "cpu", "float32")
    assert info.context_length == 64
    assert info.vocab_size == len(tokenizer) == 1024
    assert info.parameters == sum(p.numel() for p in sharp_hf_model.parameters())
    assert sharp_backend.count_tokens("Hello world") == len(tokenizer("Hello world")["input_ids"]) > 1


def test_stream_yields_token_steps_then_one_end(sharp_backend: TransformersBackend) -> None:
    steps, end = run(sharp_backend, PROMPT, SamplingParams(max_new_tokens=12, seed=5))
    assert [step.index for step in steps] == list(range(12))
    assert (end.reason, end.tokens, end.error) == ("max_tokens", 12, None)
    assert end.prompt_tokens == sharp_backend.count_tokens(PROMPT)
    assert end.text.startswith("".join(step.text for step in steps))
    assert 0 < end.first_token_s <= end.elapsed_s
    assert all(step.elapsed_s > 0 and 0 < step.raw_prob <= 1 and 0 < step.final_prob <= 1 for step in steps)


def test_same_seed_same_tokens_other_seed_other_tokens(sharp_backend: TransformersBackend) -> None:
    params = SamplingParams(temperature=1.0, max_new_tokens=16, seed=42)
    first_steps, first_end = run(sharp_backend, PROMPT, params)
    second_steps, second_end = run(sharp_backend, PROMPT, params)
    other_steps, _ = run(sharp_backend, PROMPT, params.replace(seed=43))
    ids = [step.token_id for step in first_steps]
    assert ids == [step.token_id for step in second_steps]
    assert first_end.text == second_end.text
    assert ids != [step.token_id for step in other_steps]


def test_greedy_matches_transformers_generate(sharp_backend: TransformersBackend, sharp_hf_model) -> None:
    steps, end = run(sharp_backend, PROMPT, SamplingParams(temperature=0.0, max_new_tokens=20))
    prompt_ids = torch.tensor([sharp_backend._encode(PROMPT)])
    with torch.inference_mode():
        expected = sharp_hf_model.generate(
            prompt_ids, do_sample=False, max_new_tokens=20, pad_token_id=sharp_hf_model.config.eos_token_id
        )[0, prompt_ids.shape[1] :].tolist()
    eos = sharp_hf_model.config.eos_token_id
    if eos in expected:
        expected = expected[: expected.index(eos)]
        assert end.reason == "eos"
    assert [step.token_id for step in steps] == expected


def test_probabilities_match_a_full_forward_pass(float32_cache_backend: TransformersBackend, sharp_hf_model) -> None:
    params = SamplingParams(temperature=0.8, top_k=40, max_new_tokens=24, seed=7)
    steps, _ = run(float32_cache_backend, PROMPT, params, alternatives=4)
    prompt_ids = float32_cache_backend._encode(PROMPT)
    sequence = torch.tensor([prompt_ids + [step.token_id for step in steps]])
    with torch.inference_mode():
        probs = sharp_hf_model(sequence).logits[0].softmax(dim=-1)
    for step in steps:
        position = probs[len(prompt_ids) + step.index - 1]
        assert step.raw_prob == pytest.approx(position[step.token_id].item(), rel=1e-4)
        top = position.topk(4)
        assert [a.token_id for a in step.alternatives] == top.indices.tolist()
        assert [a.raw_prob for a in step.alternatives] == pytest.approx(top.values.tolist(), rel=1e-4)
    assert max(step.raw_prob for step in steps) > 0.01, "the model is peaked enough for the check to mean something"


def test_cancel_stops_within_one_token(sharp_backend: TransformersBackend) -> None:
    cancel = threading.Event()
    steps = []
    for event in sharp_backend.stream(PROMPT, SamplingParams(max_new_tokens=30, seed=1), cancel=cancel):
        if isinstance(event, TokenStep):
            steps.append(event)
            if len(steps) == 3:
                cancel.set()
        else:
            end = event
    assert len(steps) == 3
    assert (end.reason, end.tokens) == ("cancelled", 3)


def test_stop_string_cuts_the_text(sharp_backend: TransformersBackend) -> None:
    params = SamplingParams(max_new_tokens=20, seed=11)
    steps, full = run(sharp_backend, PROMPT, params)
    # a stop string spanning the boundary between two tokens in the middle of the continuation
    boundary = next(i for i in range(5, 19) if len(steps[i].text) >= 2 and len(steps[i + 1].text) >= 2)
    stop = steps[boundary].text[-2:] + steps[boundary + 1].text[:2]
    expected = full.text[: full.text.index(stop)]

    cut_steps, cut = run(sharp_backend, PROMPT, params.replace(stop=(stop,)))
    assert (cut.reason, cut.text) == ("stop_string", expected)
    assert "".join(step.text for step in cut_steps) == expected
    assert cut.tokens == len(cut_steps) <= boundary + 2


def test_max_new_tokens_and_sorted_alternatives(sharp_backend: TransformersBackend) -> None:
    steps, end = run(sharp_backend, PROMPT, SamplingParams(max_new_tokens=5, seed=3), alternatives=7)
    assert len(steps) == end.tokens == 5
    for step in steps:
        assert len(step.alternatives) == 7
        probs = [a.raw_prob for a in step.alternatives]
        assert probs == sorted(probs, reverse=True)


def test_long_prompt_is_cut_from_the_left_and_the_context_fills(sharp_backend: TransformersBackend) -> None:
    long_prompt = "word " * 200
    _, short_run = run(sharp_backend, long_prompt, SamplingParams(max_new_tokens=4, seed=2))
    assert (short_run.prompt_tokens, short_run.reason) == (60, "max_tokens")

    steps, end = run(sharp_backend, long_prompt, SamplingParams(temperature=0.0, max_new_tokens=100))
    assert end.prompt_tokens == 32, "a long continuation keeps half the context for the prompt"
    assert (end.reason, end.tokens, len(steps)) == ("context_full", 33, 33)


@pytest.mark.parametrize("prompt", ["", "🐉 Ünïcödé — 日本語 ", "\n\n\t"])
def test_empty_and_unicode_prompts(sharp_backend: TransformersBackend, prompt: str) -> None:
    steps, end = run(sharp_backend, prompt, SamplingParams(max_new_tokens=6, seed=9))
    assert (end.reason, end.error, len(steps)) == ("max_tokens", None, 6)
    assert end.prompt_tokens == (1 if prompt == "" else sharp_backend.count_tokens(prompt))
    # a random model may choose byte tokens that are no UTF-8 (then U+FFFD is right); either way the streamed pieces
    # are what decoding all the tokens at once gives, and no character is split between two pieces
    ids = [step.token_id for step in steps]
    assert end.text == "".join(step.text for step in steps) == sharp_backend._tokenizer.decode(ids)


def test_a_bad_argument_ends_the_stream_with_the_error(sharp_backend: TransformersBackend) -> None:
    steps, end = run(sharp_backend, PROMPT, SamplingParams(max_new_tokens=5, seed=1), alternatives=-1)
    assert steps == []
    assert (end.reason, end.tokens, end.text) == ("error", 0, "")
    assert end.error == "ValueError: alternatives must be 0 or more, got -1"


def test_a_model_failure_ends_the_stream_with_the_error(tmp_path: Path, tiny_model_dir: Path, random_gpt2) -> None:
    """A model whose embedding is smaller than its tokenizer's vocabulary fails in the forward pass."""
    random_gpt2(tmp_path, tiny_model_dir, n_embd=8, n_layer=1, n_head=1, vocab_size=16)
    backend = TransformersBackend.load(tmp_path, device="cpu")
    steps, end = run(backend, "Hello world", SamplingParams(max_new_tokens=5, seed=1))
    assert steps == []
    assert end.reason == "error" and end.error.startswith("IndexError") and "\n" not in end.error
