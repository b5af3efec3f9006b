"""Beam search and contrastive search give transformers' token ids, on the tiny random GPT-2 of tests/conftest.py and on a sharper
seeded GPT-2 with a small vocabulary; tokens are released as soon as they are certain."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, GPT2Config, GPT2LMHeadModel
from transformers.generation.logits_process import (
    LogitsProcessorList,
    RepetitionPenaltyLogitsProcessor,
)

from scribe.engine.transformers_search import TransformersModelStep
from scribe.sampling.params import SamplingParams
from scribe.sampling.sampler import Sampler
from scribe.sampling.search import beam_search, contrastive_search, search

PROMPT = torch.tensor([64, 17, 201, 9, 143, 77, 5])
PAD = 1  # not in the prompt; transformers needs one for beam search
EARLY = {"heuristic": False, "true": True, "never": "never"}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """These models are tiny: one thread is many times faster than two on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def sharp() -> torch.nn.Module:
    """A seeded GPT-2 with peaked distributions (wide init) and a 300-token vocabulary: fast, and far from ties."""
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=300, n_embd=32, n_layer=2, n_head=2, n_positions=64, initializer_range=0.5,
                        bos_token_id=None, eos_token_id=None)  # fmt: skip
    return GPT2LMHeadModel(config).eval()


@pytest.fixture(scope="module")
def tiny(tiny_model_dir: Path) -> torch.nn.Module:
    return AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()


def greedy_ids(model: torch.nn.Module, steps: int) -> list[int]:
    with torch.inference_mode():
        return model.generate(PROMPT[None], do_sample=False, max_new_tokens=steps, pad_token_id=PAD)[0, 7:].tolist()


def ours(model, params: SamplingParams, steps: int, eos: int | None = None) -> list[int]:
    with torch.inference_mode():
        results = search(TransformersModelStep(model), PROMPT, params, max_new_tokens=steps,
                         eos_ids=frozenset() if eos is None else frozenset([eos]))  # fmt: skip
        return [r.token_id for r in results]


def reference_beams(model, params: SamplingParams, steps: int, eos: int | None, **processors) -> list[int]:
    with torch.inference_mode():
        out = model.generate(
            PROMPT[None], do_sample=False, num_beams=params.num_beams, length_penalty=params.length_penalty,
            early_stopping=EARLY[params.early_stopping], max_new_tokens=steps, pad_token_id=PAD,
            eos_token_id=eos, **processors,
        )  # fmt: skip
    return out[0, PROMPT.numel() :].tolist()


# --- beam search --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("beams", "length_penalty", "early_stopping"),
    [(2, 1.0, "heuristic"), (4, 1.0, "heuristic"), (3, 2.0, "never"), (5, -1.0, "true"), (4, 0.0, "never")],
)
@pytest.mark.parametrize("with_eos", [False, True])
def test_beam_search_gives_the_ids_of_transformers_generate(sharp, beams, length_penalty, early_stopping, with_eos):
    # A token greedy decoding reaches early, as the end token: beams finish at different lengths.
    eos = greedy_ids(sharp, 6)[3] if with_eos else None
    params = SamplingParams(num_beams=beams, length_penalty=length_penalty, early_stopping=early_stopping)
    expected = reference_beams(sharp, params, 20, eos)
    assert ours(sharp, params, 20, eos) == expected
    if with_eos and eos in expected:
        assert expected[-1] == eos  # the end token is yielded last


def test_beam_search_ends_early_on_the_end_token(sharp):
    greedy = greedy_ids(sharp, 8)
    params = SamplingParams(num_beams=3)
    found = ours(sharp, params, 30, greedy[3])
    assert found == reference_beams(sharp, params, 30, greedy[3]) and len(found) < 30


def test_beam_search_on_the_tiny_random_gpt2(tiny):
    for beams in (2, 3):
        params = SamplingParams(num_beams=beams)
        assert ours(tiny, params, 8, 50256) == reference_beams(tiny, params, 8, 50256)


def test_beam_search_applies_the_penalties_as_transformers_does(sharp):
    params = SamplingParams(num_beams=3, repetition_penalty=1.5, no_repeat_ngram_size=2)
    expected = reference_beams(sharp, params, 20, None, repetition_penalty=1.5, no_repeat_ngram_size=2)
    assert ours(sharp, params, 20) == expected
    assert expected != reference_beams(sharp, params, 20, None)  # the penalties changed something


def test_beam_search_releases_tokens_as_the_beams_agree_and_reports_alternatives(sharp):
    calls = []
    step = TransformersModelStep(sharp)

    def counted(*args):
        calls.append(1)
        return step(*args)

    params = SamplingParams(num_beams=3, no_repeat_ngram_size=1)
    released_at = []
    with torch.inference_mode():
        results = []
        found = beam_search(counted, PROMPT, params, max_new_tokens=25, alternatives=4, decode=lambda t: f"<{t}>")
        for result in found:
            released_at.append(len(calls))
            results.append(result)
    assert [r.token_id for r in results] == reference_beams(sharp, params, 25, None, no_repeat_ngram_size=1)
    assert released_at[0] < len(calls)  # the first tokens came out before the search ended
    for result in results:
        assert result.final_prob == 1.0 and 0 < result.raw_prob <= 1
        raws = [a.raw_prob for a in result.alternatives]
        assert len(raws) == 4 and raws == sorted(raws, reverse=True)
        for alt in result.alternatives:
            assert alt.text == f"<{alt.token_id}>"
            if alt.token_id == result.token_id:
                assert (alt.removed_by, alt.final_prob, alt.raw_prob) == (None, 1.0, result.raw_prob)
            else:
                assert alt.removed_by in ("beam_search", "no_repeat_ngram") and alt.final_prob == 0.0
    # Every token is new (no_repeat_ngram_size=1): a repeated one among the likeliest alternatives is banned.
    banned = [a for r in results for a in r.alternatives if a.removed_by == "no_repeat_ngram"]
    assert banned and all(a.token_id in PROMPT.tolist() + [r.token_id for r in results] for a in banned)


def test_a_cancelled_beam_search_stops_with_a_prefix_of_the_answer(sharp):
    params = SamplingParams(num_beams=2)
    full = ours(sharp, params, 30)
    calls = []
    step = TransformersModelStep(sharp)

    def counted(*args):
        calls.append(1)
        return step(*args)

    with torch.inference_mode():
        found = beam_search(counted, PROMPT, params, max_new_tokens=30, cancelled=lambda: len(calls) >= 10)
        got = [r.token_id for r in found]
    assert len(calls) == 10 and got == full[: len(got)] and len(got) < len(full)


# --- contrastive search -------------------------------------------------------------------------------------------


def contrastive_reference(model, alpha: float, k: int, steps: int, processors=None) -> list[int]:
    """Contrastive search from its definition (Su et al. 2022), with full forward passes and no cache: pick the
    candidate v among the top k of the (processed) next-token distribution maximising
    (1 - alpha) * p(v) - alpha * max_j cos(h_v, h_j) over the last hidden states h_j of every earlier token."""
    ids = PROMPT.tolist()
    with torch.inference_mode():
        for _ in range(steps):
            out = model(torch.tensor([ids]), output_hidden_states=True)
            context = out.hidden_states[-1][0]
            logits = out.logits[0, -1:]
            if processors is not None:
                logits = processors(torch.tensor([ids]), logits)
            probs, candidates = logits[0].softmax(-1).topk(k)
            scores = []
            for p, v in zip(probs.tolist(), candidates.tolist()):
                h = model(torch.tensor([ids + [v]]), output_hidden_states=True).hidden_states[-1][0, -1]
                similarity = torch.nn.functional.cosine_similarity(context, h[None], dim=-1).max()
                scores.append((1 - alpha) * p - alpha * float(similarity))
            ids.append(candidates.tolist()[scores.index(max(scores))])
    return ids[PROMPT.numel() :]


@pytest.mark.parametrize(("alpha", "k"), [(0.6, 4), (0.3, 6), (0.9, 3)])
def test_contrastive_search_follows_its_definition(sharp, alpha, k):
    params = SamplingParams(penalty_alpha=alpha, top_k=k)
    assert ours(sharp, params, 15) == contrastive_reference(sharp, alpha, k, 15)


def test_contrastive_search_on_the_tiny_random_gpt2_and_with_penalties(tiny, sharp):
    assert ours(tiny, SamplingParams(penalty_alpha=0.6, top_k=4), 6) == contrastive_reference(tiny, 0.6, 4, 6)
    params = SamplingParams(penalty_alpha=0.5, top_k=4, repetition_penalty=1.4)
    processors = LogitsProcessorList([RepetitionPenaltyLogitsProcessor(1.4)])
    assert ours(sharp, params, 12) == contrastive_reference(sharp, 0.5, 4, 12, processors)


def test_contrastive_search_differs_from_greedy_and_reports_its_candidates(sharp):
    params = SamplingParams(penalty_alpha=0.6)  # top_k 0: four candidates
    with torch.inference_mode():
        results = list(contrastive_search(TransformersModelStep(sharp), PROMPT, params, max_new_tokens=15,
                                          alternatives=8))  # fmt: skip
    assert [r.token_id for r in results] == contrastive_reference(sharp, 0.6, 4, 15)
    assert [r.token_id for r in results] != greedy_ids(sharp, 15)
    for result in results:
        reasons = [a.removed_by for a in result.alternatives]
        chosen = [a for a in result.alternatives if a.token_id == result.token_id]
        assert chosen and chosen[0].removed_by is None
        assert reasons[4:] == ["top_k"] * 4  # the likeliest four are the candidates
        assert set(reasons[:4]) <= {None, "contrastive_search"}


def test_contrastive_search_stops_at_the_end_token(sharp):
    answer = ours(sharp, SamplingParams(penalty_alpha=0.6, top_k=4), 10)
    eos = answer[4]
    assert ours(sharp, SamplingParams(penalty_alpha=0.6, top_k=4), 10, eos=eos) == answer[: answer.index(eos) + 1]


# --- edge cases ---------------------------------------------------------------------------------------------------


def test_one_beam_and_no_alpha_mean_sampling_and_one_candidate_is_greedy(sharp):
    assert SamplingParams(num_beams=1).search is None and SamplingParams().search is None
    assert SamplingParams(num_beams=2, penalty_alpha=0.5).search == "beam"  # beams take precedence, as in transformers
    with pytest.raises(ValueError, match="sampling"):
        search(TransformersModelStep(sharp), PROMPT, SamplingParams(), max_new_tokens=3)
    greedy = greedy_ids(sharp, 12)
    assert ours(sharp, SamplingParams(penalty_alpha=0.6, top_k=1), 12) == greedy
    # num_beams 1 is the greedy sampler, the one the backends run.
    sampler, ids = Sampler(SamplingParams(temperature=0.0)), PROMPT.tolist()
    with torch.inference_mode():
        for _ in range(12):
            ids.append(sampler.step(sharp(torch.tensor([ids])).logits[0, -1], torch.tensor(ids), 7).token_id)
    assert ids[7:] == greedy
