"""Analysis passes on a real random GPT-2: attention weights recomputed from the model's own weights, logits, windows,
next-token distributions against the sampler, and backends that cannot be analysed."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest
import torch

from scribe.analysis.attention import attention_at, entropy_bits, top_keys
from scribe.analysis.distribution import distribution_at
from scribe.engine import introspect
from scribe.engine.introspect import IntrospectionUnavailable, introspector, unavailable_reason
from scribe.sampling.params import SamplingParams
from scribe.sampling.processors import apply_processors
from scribe.sampling.sampler import Sampler

TEXT = "Once upon a time there was a dragon who lived in a cave by the sea."


def direct_attention(model, ids: list[int], layer: int, head: int) -> torch.Tensor:
    """softmax(q k^T / sqrt(d) + causal mask) for one GPT-2 head, from the block's own weights and its input."""
    with torch.no_grad():
        hidden = model(input_ids=torch.tensor([ids]), output_hidden_states=True).hidden_states[layer][0]
        block = model.transformer.h[layer]
        q, k, _ = block.attn.c_attn(block.ln_1(hidden)).split(model.config.n_embd, dim=-1)
        d = model.config.n_embd // model.config.n_head
        q, k = q[:, head * d : (head + 1) * d], k[:, head * d : (head + 1) * d]
        scores = q @ k.T / math.sqrt(d)
        causal = torch.ones(len(ids), len(ids)).triu(1).bool()
        return scores.masked_fill(causal, -math.inf).softmax(dim=-1)


def test_attention_equals_softmax_of_queries_and_keys(heads_backend):
    inspector = introspector(heads_backend)
    ids = inspector.encode(TEXT)
    analysed = inspector.run(ids)
    assert analysed.attentions is not None and analysed.attentions.shape == (2, 3, len(ids), len(ids))
    assert analysed.layer_names == ["layer 0", "layer 1"] and analysed.no_attention is None
    model = heads_backend._model
    for layer, head in ((0, 0), (1, 2)):
        expected = direct_attention(model, ids, layer, head)
        assert torch.allclose(analysed.attentions[layer, head], expected, atol=1e-5)
    row = attention_at(analysed, 9)
    assert row.tokens == tuple(analysed.texts[:10]) and row.heads == 3
    assert row.row(1, 2) == pytest.approx(expected[9, :10].tolist(), abs=1e-5)
    mean = expected.new_zeros(10)
    for head in range(3):
        mean += direct_attention(model, ids, 1, head)[9, :10] / 3
    assert row.row(1, None) == pytest.approx(mean.tolist(), abs=1e-5)
    assert sum(row.row(0, 1)) == pytest.approx(1.0)
    assert top_keys([0.1, 0.6, 0.3], 2) == [(1, 0.6), (2, 0.3)]
    assert entropy_bits([0.5, 0.5]) == pytest.approx(1.0) and entropy_bits([1.0, 0.0]) == 0.0


def test_the_pass_leaves_the_model_as_it_found_it_and_matches_its_logits(heads_backend):
    model = heads_backend._model
    before = model.config._attn_implementation
    inspector = introspector(heads_backend)
    ids = inspector.encode(TEXT)
    analysed = inspector.run(ids)
    assert model.config._attn_implementation == before
    with torch.no_grad():
        expected = model(input_ids=torch.tensor([ids])).logits[0]
    assert torch.allclose(analysed.logits, expected, atol=1e-4)
    assert analysed.texts == [heads_backend.token_text(i) for i in ids]
    # Generation still works after the pass.
    items = list(heads_backend.stream("Hello", SamplingParams(max_new_tokens=3, seed=1)))
    assert items[-1].reason == "max_tokens"


def test_long_texts_are_cut_from_the_left_to_the_window_and_the_attention_budget(heads_backend, monkeypatch):
    inspector = introspector(heads_backend)
    ids = inspector.encode(TEXT * 4)
    assert len(ids) > 48
    analysed = inspector.run(ids, prompt_length=len(ids) - 5)
    assert len(analysed.ids) == 48 == heads_backend.info.context_length  # the model's context
    assert analysed.ids == ids[-48:] and analysed.offset == len(ids) - 48 and analysed.prompt_length == 43
    assert len(inspector.run(ids, window=10).ids) == 10
    monkeypatch.setattr(introspect, "ATTENTION_BUDGET", 2 * 3 * 12 * 12)  # room for 12 tokens at 2 layers x 3 heads
    assert inspector.window() == 12 and len(inspector.run(ids).ids) == 12


@pytest.mark.parametrize("params", [
    SamplingParams(top_k=8, top_p=0.5, min_p=0.05, temperature=0.9),
    SamplingParams(repetition_penalty=1.3, top_p=0.3),
    SamplingParams(temperature=0.0),
])
def test_distribution_matches_the_sampler_at_the_same_settings(heads_backend, params):
    inspector = introspector(heads_backend)
    ids = inspector.encode(TEXT)
    analysed = inspector.run(ids)
    dist = distribution_at(analysed, 6, params, top=20)
    logits, prefix = analysed.logits[6], torch.tensor(ids[:7])
    step = Sampler(params.replace(seed=0)).step(logits, prefix, 7, alternatives=20)
    assert [c.token_id for c in dist.candidates] == [a.token_id for a in step.alternatives]
    assert [c.removed_by for c in dist.candidates] == [a.removed_by for a in step.alternatives]
    assert [c.final_prob for c in dist.candidates] == pytest.approx([a.final_prob for a in step.alternatives], abs=1e-6)
    assert [c.prob for c in dist.candidates] == pytest.approx([a.raw_prob for a in step.alternatives], abs=1e-6)
    processed, removed = apply_processors(logits, prefix, 7, params)
    alive = torch.ones_like(logits, dtype=torch.bool)
    for cut, (name, mask) in zip(dist.cuts, removed.items()):
        alive &= ~mask
        assert (cut.processor, cut.kept) == (name, int(alive.sum()))
    assert dist.cuts[-1].kept == int((processed > -math.inf).sum())
    probs = logits.softmax(dim=0)
    assert dist.candidates[-1].cumulative == pytest.approx(float(probs.topk(20).values.sum()), abs=1e-6)
    assert dist.entropy_bits == pytest.approx(float(-(probs * probs.log()).sum()) / math.log(2), abs=1e-4)
    actual = dist.actual
    assert actual is not None and actual.token_id == ids[7]
    assert actual.rank == int((probs > probs[ids[7]]).sum()) + 1
    assert dist.after == analysed.texts[6]


def test_the_last_position_has_no_following_token_and_positions_are_checked(heads_backend):
    inspector = introspector(heads_backend)
    analysed = inspector.run(inspector.encode("The sea"))
    dist = distribution_at(analysed, -1, SamplingParams(temperature=1.0))
    assert dist.actual is None and dist.position == len(analysed.ids) - 1 and dist.cuts == ()
    with pytest.raises(IndexError):
        distribution_at(analysed, len(analysed.ids), SamplingParams())
    with pytest.raises(IndexError):
        attention_at(analysed, -len(analysed.ids) - 1)
    without = inspector.run(inspector.encode("The sea"), attentions=False)
    with pytest.raises(IntrospectionUnavailable):
        attention_at(without, 0)


def test_a_remote_backend_says_why_it_cannot_be_analysed():
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from servers.openai_server import CompletionServer

    from scribe.engine.remote_backend import RemoteBackend
    from scribe.store.remotes import RemoteEndpoint

    with CompletionServer() as server:
        backend = RemoteBackend(RemoteEndpoint(name="test", base_url=server.url, model=server.model))
        reason = unavailable_reason(backend)
        assert reason is not None and "remote server" in reason and "attention" in reason
        with pytest.raises(IntrospectionUnavailable, match="remote server"):
            introspector(backend)
        backend.close()
