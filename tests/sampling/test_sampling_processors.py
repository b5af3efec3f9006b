"""Each processor against its definition on hand-made scores, and against transformers' processor on random logits."""

from __future__ import annotations

import math

import pytest
import torch
from torch.testing import assert_close
from transformers.generation.logits_process import (
    LogitsProcessorList,
    MinPLogitsWarper,
    NoRepeatNGramLogitsProcessor,
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
    TypicalLogitsWarper,
)

from scribe.sampling.params import SamplingParams
from scribe.sampling.processors import PROCESSOR_ORDER, apply_processors, enabled

INF = math.inf
# Every processor off: temperature 1 is the identity.
PLAIN = SamplingParams(temperature=1.0)


def process(logits, input_ids=(), prompt_length=0, **settings):
    scores, removed = apply_processors(
        torch.tensor(logits, dtype=torch.float32),
        torch.tensor(input_ids, dtype=torch.long),
        prompt_length,
        PLAIN.replace(**settings),
    )
    return scores, removed


def kept(scores: torch.Tensor) -> list[int]:
    return torch.isfinite(scores).nonzero().flatten().tolist()


def log_probs(*probs: float) -> list[float]:
    return [math.log(p) for p in probs]


# --- hand-made distributions -------------------------------------------------------------------------------------


def test_order_is_the_documented_one():
    assert PROCESSOR_ORDER == (
        "logit_bias", "banned_tokens",
        "repetition_penalty", "frequency_penalty", "presence_penalty", "no_repeat_ngram", "dry",
        "temperature", "dynatemp", "top_n_sigma", "top_k", "top_p", "min_p", "typical_p", "xtc", "mirostat",
    )  # fmt: skip
    every = SamplingParams(
        temperature=0.5, top_k=3, top_p=0.9, min_p=0.1, typical_p=0.9, repetition_penalty=1.1,
        frequency_penalty=0.1, presence_penalty=0.1, no_repeat_ngram_size=2, dry_multiplier=0.8,
        xtc_probability=0.5, mirostat_tau=5.0,
    )  # fmt: skip
    newer = ("logit_bias", "banned_tokens", "dynatemp", "top_n_sigma")
    assert enabled(every) == tuple(name for name in PROCESSOR_ORDER if name not in newer)
    assert enabled(PLAIN) == ()
    assert enabled(every.replace(temperature=0.0)) == PROCESSOR_ORDER[2:7] + ("greedy",)
    everything = every.replace(logit_bias="1:2", banned_tokens="3", dynatemp_range=0.5, top_n_sigma=1.0)
    assert enabled(everything) == tuple(name for name in PROCESSOR_ORDER if name != "temperature")


def test_repetition_penalty_divides_positive_and_multiplies_negative_logits_once():
    scores, _ = process([2.0, -1.0, 0.5, 3.0], input_ids=[0, 1, 1, 0], prompt_length=4, repetition_penalty=2.0)
    assert_close(scores, torch.tensor([1.0, -2.0, 0.5, 3.0]))


def test_frequency_and_presence_penalties_count_generated_tokens_only():
    # prompt [3, 3]; generated [1, 1, 1, 2]
    ids = [3, 3, 1, 1, 1, 2]
    frequency, _ = process([0.0] * 5, ids, 2, frequency_penalty=0.5)
    assert_close(frequency, torch.tensor([0.0, -1.5, -0.5, 0.0, 0.0]))
    presence, _ = process([0.0] * 5, ids, 2, presence_penalty=0.25)
    assert_close(presence, torch.tensor([0.0, -0.25, -0.25, 0.0, 0.0]))
    both, _ = process([1.0] * 5, ids, 2, frequency_penalty=0.5, presence_penalty=0.25)
    assert_close(both, torch.tensor([1.0, -0.75, 0.25, 1.0, 1.0]))
    negative, _ = process([0.0] * 5, ids, 2, frequency_penalty=-1.0)
    assert_close(negative, torch.tensor([0.0, 3.0, 1.0, 0.0, 0.0]))
    prompt_only, _ = process([0.0] * 5, ids, len(ids), frequency_penalty=2.0, presence_penalty=2.0)
    assert_close(prompt_only, torch.zeros(5))


@pytest.mark.parametrize(
    ("size", "banned"),
    [(1, [1, 2, 3]), (2, [3]), (3, [3]), (4, []), (6, [])],
)
def test_no_repeat_ngram_bans_tokens_that_would_repeat_an_ngram(size, banned):
    scores, removed = process([0.0] * 6, input_ids=[1, 2, 3, 1, 2], prompt_length=2, no_repeat_ngram_size=size)
    assert [t for t in range(6) if scores[t] == -INF] == banned
    assert removed["no_repeat_ngram"].nonzero().flatten().tolist() == banned


def test_temperature_divides_the_logits():
    scores, _ = process([1.0, -2.0, 4.0], temperature=0.5)
    assert_close(scores, torch.tensor([2.0, -4.0, 8.0]))


def test_top_k_keeps_the_k_highest_and_ties_with_the_kth():
    assert kept(process([1.0, 3.0, 2.0, 0.0], top_k=2)[0]) == [1, 2]
    assert kept(process([1.0, 2.0, 2.0, 2.0, 0.0], top_k=2)[0]) == [1, 2, 3]
    assert kept(process([1.0, 3.0, 2.0, 3.0, 0.0], top_k=2)[0]) == [1, 3]
    assert kept(process([1.0, 3.0], top_k=5)[0]) == [0, 1]
    scores, _ = process([1.0, 3.0, 2.0, 0.0], top_k=2)
    assert_close(scores, torch.tensor([-INF, 3.0, 2.0, -INF]))


@pytest.mark.parametrize(
    ("top_p", "survivors"),
    # probabilities 0.5, 0.3, 0.15, 0.05 (shuffled): a token stays while the mass above it is below top_p
    [(0.01, [2]), (0.45, [2]), (0.7, [2, 0]), (0.79, [2, 0]), (0.81, [2, 0, 3]), (0.99, [2, 0, 3, 1])],
)
def test_top_p_keeps_the_smallest_set_reaching_p(top_p, survivors):
    scores, removed = process(log_probs(0.3, 0.05, 0.5, 0.15), top_p=top_p)
    assert kept(scores) == sorted(survivors)
    assert removed["top_p"].nonzero().flatten().tolist() == sorted(set(range(4)) - set(survivors))


@pytest.mark.parametrize(("min_p", "survivors"), [(0.05, [0, 1, 2, 3]), (0.2, [0, 1, 2]), (0.5, [0, 1]), (1.0, [0])])
def test_min_p_drops_tokens_below_min_p_times_the_top_probability(min_p, survivors):
    assert kept(process(log_probs(0.5, 0.3, 0.15, 0.05), min_p=min_p)[0]) == survivors


@pytest.mark.parametrize(("mass", "survivors"), [(0.25, [1]), (0.5, [0, 1]), (0.9, [0, 1, 2]), (0.99, [0, 1, 2, 3])])
def test_typical_p_keeps_the_tokens_closest_to_the_entropy(mass, survivors):
    # entropy 1.142 nats; distances |-log p - H|: 0.449, 0.062, 0.755, 1.854 -> order 1, 0, 2, 3 with mass
    # 0.3, 0.8, 0.95, 1.0. A small mass keeps token 1, not the most likely token 0.
    assert kept(process(log_probs(0.5, 0.3, 0.15, 0.05), typical_p=mass)[0]) == survivors


def test_greedy_keeps_the_arg_max_of_the_penalised_scores():
    scores, removed = process([1.0, 5.0, 3.0], input_ids=[1], prompt_length=1, temperature=0.0, repetition_penalty=10.0)
    assert kept(scores) == [2]
    assert removed["greedy"].tolist() == [True, True, False]
    assert not removed["repetition_penalty"].any()


def test_removed_names_the_first_processor_only():
    # token 0 is banned by no_repeat_ngram, so top_k does not count it again
    logits = log_probs(0.3, 0.25, 0.2, 0.1, 0.08, 0.04, 0.02, 0.01)
    _, removed = process(logits, [5, 0, 5], 3, no_repeat_ngram_size=2, top_k=5, top_p=0.8, min_p=0.45)
    owners = {t: name for name, mask in removed.items() for t in mask.nonzero().flatten().tolist()}
    assert owners == {0: "no_repeat_ngram", 6: "top_k", 7: "top_k", 4: "top_p", 5: "top_p", 3: "min_p"}


def test_already_impossible_tokens_are_removed_by_nobody():
    scores, removed = process([0.0, -INF, 1.0, 2.0], top_k=1)
    assert kept(scores) == [3]
    assert removed["top_k"].tolist() == [True, False, True, False]


# --- against transformers -----------------------------------------------------------------------------------------

SEEDS = (0, 1, 2, 3, 4)
VOCAB = 1000


def random_case(seed: int, *, scale: float = 3.0, id_range: int = VOCAB, length: int = 60):
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(VOCAB, generator=generator) * scale
    input_ids = torch.randint(0, id_range, (length,), generator=generator)
    return logits, input_ids


def reference(processors, logits: torch.Tensor, input_ids: torch.Tensor) -> torch.Tensor:
    return LogitsProcessorList(processors)(input_ids[None, :], logits[None, :].clone())[0]


def ours(logits: torch.Tensor, input_ids: torch.Tensor, prompt_length: int = 0, **settings) -> torch.Tensor:
    return apply_processors(logits, input_ids, prompt_length, PLAIN.replace(**settings))[0]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("penalty", [0.7, 1.3, 2.0])
def test_repetition_penalty_matches_transformers(seed, penalty):
    logits, ids = random_case(seed)
    expected = reference([RepetitionPenaltyLogitsProcessor(penalty)], logits, ids)
    assert_close(ours(logits, ids, 30, repetition_penalty=penalty), expected)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("size", [1, 2, 3, 4])
def test_no_repeat_ngram_matches_transformers(seed, size):
    logits, ids = random_case(seed, id_range=6, length=80)  # few distinct ids, so n-grams repeat
    expected = reference([NoRepeatNGramLogitsProcessor(size)], logits, ids)
    assert_close(ours(logits, ids, 10, no_repeat_ngram_size=size), expected)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("temperature", [0.3, 0.8, 1.7])
def test_temperature_matches_transformers(seed, temperature):
    logits, ids = random_case(seed)
    expected = reference([TemperatureLogitsWarper(temperature)], logits, ids)
    assert_close(ours(logits, ids, temperature=temperature), expected)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("k", [1, 5, 40, 63, 64, 65, 300, 999, 1000])
def test_top_k_matches_transformers(seed, k):
    logits, ids = random_case(seed)
    expected = reference([TopKLogitsWarper(k)], logits, ids)
    assert_close(ours(logits, ids, top_k=k), expected)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("k", [1, 5, 40])
def test_top_k_matches_transformers_with_ties(seed, k):
    logits, ids = random_case(seed)
    logits = (logits * 2).round() / 2  # coarse values: many ties, also at the k-th
    expected = reference([TopKLogitsWarper(k)], logits, ids)
    assert_close(ours(logits, ids, top_k=k), expected)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("scale", [0.5, 3.0, 8.0])
@pytest.mark.parametrize("top_p", [0.05, 0.5, 0.9, 0.99])
def test_top_p_matches_transformers(seed, scale, top_p):
    # scale 0.5 is flat: the nucleus holds hundreds of tokens, beyond the first look at 64 candidates
    logits, ids = random_case(seed, scale=scale)
    expected = reference([TopPLogitsWarper(top_p)], logits, ids)
    assert_close(ours(logits, ids, top_p=top_p), expected)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("min_p", [0.01, 0.1, 0.5])
def test_min_p_matches_transformers(seed, min_p):
    logits, ids = random_case(seed)
    expected = reference([MinPLogitsWarper(min_p)], logits, ids)
    assert_close(ours(logits, ids, min_p=min_p), expected)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("mass", [0.2, 0.5, 0.9, 0.99])
def test_typical_p_matches_transformers(seed, mass):
    logits, ids = random_case(seed)
    expected = reference([TypicalLogitsWarper(mass)], logits, ids)
    assert_close(ours(logits, ids, typical_p=mass), expected)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(
    "settings",
    [
        {"temperature": 0.7, "top_k": 50, "top_p": 0.9},
        {"temperature": 1.3, "top_p": 0.95, "min_p": 0.02},
        {"temperature": 0.9, "top_k": 200, "top_p": 0.8, "min_p": 0.05, "typical_p": 0.9},
        {"temperature": 0.5, "repetition_penalty": 1.3, "no_repeat_ngram_size": 2, "top_k": 20, "typical_p": 0.7},
    ],
)
def test_chains_match_transformers_in_the_same_order(seed, settings):
    logits, ids = random_case(seed, id_range=50)
    chain = [
        RepetitionPenaltyLogitsProcessor(settings["repetition_penalty"]) if "repetition_penalty" in settings else None,
        NoRepeatNGramLogitsProcessor(settings["no_repeat_ngram_size"]) if "no_repeat_ngram_size" in settings else None,
        TemperatureLogitsWarper(settings["temperature"]),
        TopKLogitsWarper(settings["top_k"]) if "top_k" in settings else None,
        TopPLogitsWarper(settings["top_p"]) if "top_p" in settings else None,
        MinPLogitsWarper(settings["min_p"]) if "min_p" in settings else None,
        TypicalLogitsWarper(settings["typical_p"]) if "typical_p" in settings else None,
    ]
    expected = reference([p for p in chain if p is not None], logits, ids)
    assert_close(ours(logits, ids, 20, **settings), expected)


@pytest.mark.parametrize("watch", [3, 40, 41])
def test_looking_up_the_leading_candidates_matches_the_search(watch: int) -> None:
    """After top_k the sampler looks its watched alternatives up among the candidates: the first of the same ranking
    (no search), or a copy of them (the search) give the same scores, -inf for those top_k removed."""
    from scribe.sampling.processors import Scores, run

    scores = Scores(torch.randn(500, generator=torch.Generator().manual_seed(watch)) * 3)
    watched = scores.top(watch)[1]
    list(run(scores, torch.tensor([1, 2]), 2, SamplingParams(temperature=0.7, top_k=40)))
    assert scores.ids is not None and scores.ids.numel() == 40
    fast = scores.gather(watched, scores.values, float("-inf"))
    searched = scores.gather(watched.clone(), scores.values, float("-inf"))
    assert torch.equal(fast, searched) if watch <= 40 else torch.isneginf(searched[40:]).all()
    assert torch.equal(searched[:40], scores.values[: min(watch, 40)])
