"""The Sampler: greedy and seeded choices, the reported probabilities, and which processor removed each alternative."""

from __future__ import annotations

import math
from collections import Counter

import pytest
import torch

from scribe.sampling.params import SamplingParams
from scribe.sampling.sampler import PROCESSOR_ORDER, SampleResult, Sampler, apply_processors

NO_IDS = torch.zeros(0, dtype=torch.long)


def random_logits(seed: int, vocab: int = 1000, scale: float = 3.0) -> torch.Tensor:
    return torch.randn(vocab, generator=torch.Generator().manual_seed(seed)) * scale


def generate(params: SamplingParams, steps: int = 60, vocab: int = 500) -> list[int]:
    """Feed the sampler a fixed sequence of logits, appending each choice to the context."""
    sampler = Sampler(params)
    ids = [1, 2, 3]
    for step in range(steps):
        result = sampler.step(random_logits(step, vocab, 2.0), torch.tensor(ids), 3)
        ids.append(result.token_id)
    return ids[3:]


def test_exports_the_processor_order():
    assert PROCESSOR_ORDER[:3] == ("logit_bias", "banned_tokens", "repetition_penalty")
    assert PROCESSOR_ORDER[-1] == "mirostat"


def test_greedy_picks_the_arg_max_and_reports_a_one_hot_distribution():
    logits = random_logits(0)
    result = Sampler(SamplingParams(temperature=0.0, top_k=3)).step(logits, NO_IDS, 0, alternatives=4)
    best = int(logits.argmax())
    assert result.token_id == best
    assert result.final_prob == 1.0
    assert result.raw_prob == pytest.approx(float(logits.softmax(0)[best]), rel=1e-6)
    assert [a.token_id for a in result.alternatives] == logits.topk(4).indices.tolist()
    assert [a.removed_by for a in result.alternatives] == [None, "greedy", "greedy", "greedy"]
    assert [a.final_prob for a in result.alternatives] == [1.0, 0.0, 0.0, 0.0]


def test_greedy_follows_the_penalties():
    logits = torch.tensor([1.0, 5.0, 3.0])
    result = Sampler(SamplingParams(temperature=0.0, repetition_penalty=10.0)).step(logits, torch.tensor([1]), 1)
    assert result.token_id == 2
    assert {a.token_id: a.removed_by for a in result.alternatives} == {1: "greedy", 2: None, 0: "greedy"}


def test_the_same_seed_gives_the_same_tokens_and_another_seed_differs():
    params = SamplingParams(temperature=1.0, top_k=100, top_p=0.95, seed=7)
    first = generate(params)
    assert generate(params) == first
    assert generate(params.replace(seed=8)) != first
    assert len(set(first)) > 10  # it really samples


def test_a_random_seed_is_reported_and_reproduces_the_choices():
    sampler = Sampler(SamplingParams(temperature=1.0))
    params = SamplingParams(temperature=1.0, seed=sampler.seed)
    assert generate(params) == generate(params)
    assert Sampler(SamplingParams(temperature=1.0)).seed != sampler.seed


def test_samples_follow_the_final_distribution():
    logits = torch.tensor([math.log(p) for p in (0.5, 0.3, 0.15, 0.05)])
    sampler = Sampler(SamplingParams(temperature=1.0, top_k=3, seed=0))
    draws = 4000
    counts = Counter(sampler.step(logits, NO_IDS, 0).token_id for _ in range(draws))
    assert 3 not in counts  # removed by top_k: never drawn
    for token, prob in ((0, 0.5 / 0.95), (1, 0.3 / 0.95), (2, 0.15 / 0.95)):
        assert counts[token] / draws == pytest.approx(prob, abs=0.03)


def test_reported_probabilities_match_the_distributions():
    logits = random_logits(3)
    params = SamplingParams(temperature=0.7, top_k=30, seed=1)
    result = Sampler(params).step(logits, NO_IDS, 0, alternatives=50)
    raw = logits.softmax(0)
    final = (logits / 0.7).masked_fill(logits < logits.topk(30).values[-1], -math.inf).softmax(0)
    assert result.raw_prob == pytest.approx(float(raw[result.token_id]), rel=1e-5)
    assert result.final_prob == pytest.approx(float(final[result.token_id]), rel=1e-5)
    for alt in result.alternatives:
        assert alt.raw_prob == pytest.approx(float(raw[alt.token_id]), rel=1e-5)
        assert alt.final_prob == pytest.approx(float(final[alt.token_id]), rel=1e-5, abs=1e-9)
        assert (alt.removed_by == "top_k") == (alt.final_prob == 0.0)
    raws = [a.raw_prob for a in result.alternatives]
    assert raws == sorted(raws, reverse=True)


def test_removed_by_names_the_processor_that_removed_each_alternative():
    logits = torch.tensor([math.log(p) for p in (0.3, 0.25, 0.2, 0.1, 0.08, 0.04, 0.02, 0.01)])
    params = SamplingParams(temperature=1.0, no_repeat_ngram_size=2, top_k=5, top_p=0.8, min_p=0.45, seed=0)
    result = Sampler(params).step(logits, torch.tensor([5, 0, 5]), 3, alternatives=8, decode=lambda t: f"<{t}>")
    assert [a.token_id for a in result.alternatives] == list(range(8))
    assert [a.text for a in result.alternatives] == [f"<{t}>" for t in range(8)]
    assert [a.removed_by for a in result.alternatives] == [
        "no_repeat_ngram", None, None, "min_p", "top_p", "top_p", "top_k", "top_k",
    ]  # fmt: skip
    finals = [a.final_prob for a in result.alternatives]
    assert finals[1] == pytest.approx(0.25 / 0.45) and finals[2] == pytest.approx(0.2 / 0.45)
    assert result.token_id in (1, 2)


@pytest.mark.parametrize(
    "settings",
    [
        {"temperature": 0.9},
        {"temperature": 0.8, "top_k": 50, "top_p": 0.9},
        {"temperature": 1.2, "top_p": 0.7, "min_p": 0.05},
        {"temperature": 1.0, "typical_p": 0.6, "repetition_penalty": 1.5, "no_repeat_ngram_size": 1},
    ],
)
def test_final_probabilities_of_the_survivors_sum_to_one(settings):
    logits = random_logits(5)
    params = SamplingParams(seed=2, **settings)
    ids = torch.arange(0, 40)
    result = Sampler(params).step(logits, ids, 20, alternatives=logits.numel())
    survivors = [a for a in result.alternatives if a.removed_by is None]
    assert sum(a.final_prob for a in survivors) == pytest.approx(1.0, abs=1e-5)
    assert all(a.final_prob > 0 for a in survivors)
    assert all(a.final_prob == 0 for a in result.alternatives if a.removed_by is not None)
    assert result.token_id in {a.token_id for a in survivors}


@pytest.mark.parametrize("alternatives", [3, 1000])
@pytest.mark.parametrize(
    "settings",
    [
        {"temperature": 0.8, "top_k": 100, "top_p": 0.9},
        {"temperature": 1.5, "top_p": 0.97, "min_p": 0.01},
        {"temperature": 0.6, "top_k": 10, "typical_p": 0.8, "presence_penalty": 1.0},
    ],
)
def test_reported_final_probabilities_are_those_of_apply_processors(settings, alternatives):
    logits = random_logits(6, scale=1.5)
    ids = torch.arange(0, 80, 2)
    params = SamplingParams(seed=4, **settings)
    final = apply_processors(logits, ids, 10, params)[0].softmax(0)
    result = Sampler(params).step(logits, ids, 10, alternatives=alternatives)
    assert result.final_prob == pytest.approx(float(final[result.token_id]), rel=1e-5)
    for alt in result.alternatives:
        assert alt.final_prob == pytest.approx(float(final[alt.token_id]), rel=1e-5, abs=1e-9)


def test_frequency_and_presence_penalties_ignore_prompt_tokens():
    logits = torch.tensor([2.0, 1.9, 0.0])
    params = SamplingParams(temperature=0.0, frequency_penalty=2.0, presence_penalty=2.0)
    sampler = Sampler(params)
    assert sampler.step(logits, torch.tensor([0, 0, 0]), 3).token_id == 0  # token 0 only in the prompt
    assert sampler.step(logits, torch.tensor([0, 0, 0]), 2).token_id == 1  # once generated, it is penalised


def test_half_precision_logits_and_no_alternatives():
    result = Sampler(SamplingParams(seed=0)).step(random_logits(1).half(), NO_IDS, 0, alternatives=0)
    assert isinstance(result, SampleResult) and result.alternatives == ()
    assert 0 < result.final_prob <= 1


def test_bad_arguments_are_refused():
    sampler = Sampler(SamplingParams())
    with pytest.raises(ValueError, match="1-D"):
        sampler.step(torch.zeros(1, 10), NO_IDS, 0)
    with pytest.raises(ValueError, match="prompt_length"):
        sampler.step(torch.zeros(10), torch.tensor([1, 2]), 3)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_gives_the_same_choices_as_cpu_for_greedy_and_samples_on_the_device():
    logits = random_logits(4, vocab=50257)
    ids = torch.arange(100, 160)
    greedy = SamplingParams(temperature=0.0, repetition_penalty=1.3, no_repeat_ngram_size=2)
    on_cpu = Sampler(greedy).step(logits, ids, 30)
    on_gpu = Sampler(greedy, device="cuda").step(logits.cuda(), ids.cuda(), 30)
    assert on_gpu.token_id == on_cpu.token_id
    assert [a.token_id for a in on_gpu.alternatives] == [a.token_id for a in on_cpu.alternatives]
    params = SamplingParams(temperature=0.9, top_k=50, top_p=0.9, min_p=0.02, typical_p=0.95, seed=3)
    first = [Sampler(params, device="cuda").step(logits.cuda(), ids.cuda(), 30).token_id for _ in range(2)]
    assert first[0] == first[1]


def test_greedy_takes_the_first_of_equal_best_scores():
    """Greedy picks what argmax picks: the first of several equal best scores, also across a large vocabulary."""
    logits = torch.randn(49152, generator=torch.Generator().manual_seed(5))
    logits[[40000, 123, 777]] = 20.0
    result = Sampler(SamplingParams(temperature=0.0)).step(logits, torch.tensor([1, 2]), 2)
    assert result.token_id == 123


def test_a_short_list_of_candidates_draws_what_the_tensor_path_draws(monkeypatch):
    """Draws from a few candidates sum in Python: for the same seed they pick the tensor path's positions, never one
    of probability 0."""
    from scribe.sampling import sampler as sampler_module

    generator = torch.Generator().manual_seed(5)
    lists = []
    for size in (1, 2, 7, 40, 256):
        probs = torch.rand(size, generator=generator) ** 4
        probs[torch.rand(size, generator=generator) < 0.3] = 0.0
        probs[-1] = 0.0 if size > 1 else 1.0  # a zero at the end, where the clamp would land
        lists.append(probs / probs.sum())
    drawn = {}
    for path, limit in (("python", 256), ("tensor", 0)):
        monkeypatch.setattr(sampler_module, "_PYTHON_DRAW", limit)
        sampler = Sampler(SamplingParams(seed=11))
        drawn[path] = [int(sampler._draw(probs)) for probs in lists for _ in range(200)]
    assert drawn["python"] == drawn["tensor"]
    assert all(probs[i] > 0 for probs, i in zip([p for p in lists for _ in range(200)], drawn["tensor"]))
    assert len(set(drawn["tensor"])) > 20
