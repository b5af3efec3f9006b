"""Dynamic temperature, top-nσ, logit bias, banned tokens, a chosen sampler order and banned phrases, each against
its reference definition (written out here independently of the processors)."""

from __future__ import annotations

import math

import pytest
import torch

from scribe.engine.base import StreamEnd, TokenStep
from scribe.engine.streaming import sampled_tokens, stream_loop
from scribe.sampling.params import InvalidSetting, SamplingParams
from scribe.sampling.processors import PROCESSOR_ORDER, apply_processors, enabled
from scribe.sampling.sampler import Sampler

LOGITS = [3.0, 2.5, 1.0, 0.2, -1.0, -4.0]
FLAT = [0.1, 0.0, 0.05, -0.05, 0.02, 0.0]


def process(logits: list[float], **settings: object) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    return apply_processors(torch.tensor(logits), torch.tensor([0]), 1, SamplingParams(**settings))


def reference_dynatemp(logits: list[float], temperature: float, spread: float, exponent: float) -> list[float]:
    """llama.cpp's llama_sampler_temp_ext: the temperature from the normalised entropy of the softmax."""
    peak = max(logits)
    exps = [math.exp(x - peak) for x in logits]
    probs = [e / sum(exps) for e in exps]
    entropy = -sum(p * math.log(p) for p in probs if p > 0)
    normalised = entropy / math.log(len(logits))
    low, high = max(0.0, temperature - spread), temperature + spread
    t = low + (high - low) * normalised**exponent
    return [x / t for x in logits]


@pytest.mark.parametrize("logits", [LOGITS, FLAT])
@pytest.mark.parametrize("exponent", [1.0, 2.0])
def test_dynamic_temperature_follows_the_entropy(logits: list[float], exponent: float) -> None:
    scores, removed = process(logits, temperature=1.0, dynatemp_range=0.5, dynatemp_exponent=exponent)
    assert torch.allclose(scores, torch.tensor(reference_dynatemp(logits, 1.0, 0.5, exponent)), atol=1e-5)
    assert "dynatemp" in removed and "temperature" not in removed


def test_a_flat_distribution_gets_a_hotter_temperature_than_a_peaked_one() -> None:
    flat, _ = process(FLAT, temperature=1.0, dynatemp_range=0.5)
    peaked, _ = process(LOGITS, temperature=1.0, dynatemp_range=0.5)
    assert FLAT[0] / float(flat[0]) > LOGITS[0] / float(peaked[0])  # the divisor, i.e. the temperature used


@pytest.mark.parametrize("n", [0.5, 1.0, 2.0])
def test_top_n_sigma_keeps_logits_within_n_deviations_of_the_best(n: float) -> None:
    mean = sum(LOGITS) / len(LOGITS)
    sigma = math.sqrt(sum((x - mean) ** 2 for x in LOGITS) / len(LOGITS))
    expected = [i for i, x in enumerate(LOGITS) if x >= max(LOGITS) - n * sigma]
    scores, removed = process(LOGITS, temperature=1.0, top_n_sigma=n)
    assert torch.isfinite(scores).nonzero().flatten().tolist() == expected
    assert removed["top_n_sigma"].nonzero().flatten().tolist() == [i for i in range(6) if i not in expected]
    hot, _ = process(LOGITS, temperature=3.0, top_n_sigma=n)
    assert torch.isfinite(hot).nonzero().flatten().tolist() == expected, "temperature does not change the set"


def test_logit_bias_adds_and_banned_tokens_remove() -> None:
    scores, removed = process(LOGITS, temperature=1.0, logit_bias="5:10, 0:-2.5", banned_tokens="1, 3")
    expected = torch.tensor([0.5, -math.inf, 1.0, -math.inf, -1.0, 6.0])
    assert torch.equal(scores, expected)
    assert removed["banned_tokens"].nonzero().flatten().tolist() == [1, 3]
    sampler = Sampler(SamplingParams(temperature=0.0, logit_bias="5:10"))
    assert sampler.step(torch.tensor(LOGITS), torch.tensor([0]), 1).token_id == 5


def test_bad_bias_and_ids_are_refused_with_the_setting_named() -> None:
    for field, text in (("logit_bias", "5"), ("logit_bias", "x:1"), ("logit_bias", "1:500"), ("banned_tokens", "a")):
        with pytest.raises(InvalidSetting, match=field):
            SamplingParams.parse_field(field, text)


def test_a_chosen_sampler_order_runs_in_that_order_and_changes_the_result() -> None:
    default = SamplingParams(temperature=0.3, min_p=0.1, top_k=3)
    assert enabled(default) == ("temperature", "top_k", "min_p")
    chosen = default.replace(sampler_order="min_p, top_k")
    assert enabled(chosen) == ("min_p", "top_k", "temperature")
    # min_p before a cold temperature sees a flatter distribution, so it keeps more tokens than after it.
    before, _ = apply_processors(torch.tensor(LOGITS), torch.tensor([0]), 1, chosen)
    after, _ = apply_processors(torch.tensor(LOGITS), torch.tensor([0]), 1, default)
    assert int(torch.isfinite(before).sum()) == 3 and int(torch.isfinite(after).sum()) == 2
    with pytest.raises(InvalidSetting, match="sampler_order: unknown top_z"):
        SamplingParams(sampler_order="top_k, top_z")
    assert set(PROCESSOR_ORDER) >= {"dynatemp", "top_n_sigma", "logit_bias", "banned_tokens"}


ALPHABET = "ab "


class AlternatingSteps:
    """After "a" the model prefers "b" (then " "), after "b" and " " it prefers "a": greedy writes "ababab..."."""

    def __init__(self) -> None:
        self.rewinds: list[int] = []

    def reserve(self, capacity: int) -> None:
        pass

    def prefill(self, ids: torch.Tensor) -> torch.Tensor:
        return self.step(ids[-1:])

    def step(self, token: torch.Tensor) -> torch.Tensor:
        return torch.tensor([0.0, 2.0, 1.0]) if int(token[0]) == 0 else torch.tensor([2.0, 0.0, 1.0])

    def rewind(self, length: int) -> None:
        self.rewinds.append(length)


def stream(params: SamplingParams, steps: AlternatingSteps) -> list[TokenStep | StreamEnd]:
    decode = lambda ids: "".join(ALPHABET[i] for i in ids)  # noqa: E731
    produce = lambda run: sampled_tokens(steps, [0], params, run, context_length=100, alternatives=3,  # noqa: E731
                                         token_text=ALPHABET.__getitem__, decode=decode)
    return list(stream_loop(produce, decode=decode, stops=params.stop))


def test_a_banned_phrase_backtracks_to_where_it_began_and_is_never_written() -> None:
    plain = stream(SamplingParams(temperature=0.0, max_new_tokens=6), AlternatingSteps())
    assert plain[-1].text == "bababa"
    steps = AlternatingSteps()
    items = stream(SamplingParams(temperature=0.0, max_new_tokens=6, banned_phrases=("BA",)), steps)
    end = items[-1]
    assert isinstance(end, StreamEnd) and end.reason == "max_tokens" and end.tokens == 6
    assert "ba" not in "a" + end.text, "the phrase never forms, not even across the prompt's end"
    assert end.text == " a a a"
    assert steps.rewinds, "the model's cache was rewound to where the phrase began"
    tokens = [item for item in items if isinstance(item, TokenStep)]
    assert "".join(t.text for t in tokens) == end.text and [t.index for t in tokens] == list(range(6))
    for retried in (tokens[0], tokens[2], tokens[4]):  # "b" was written, then taken back when "a" followed it
        assert retried.text == " " and {a.text: a.removed_by for a in retried.alternatives}["b"] == "banned_phrases"
