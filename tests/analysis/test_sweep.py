"""Sweeps on a real random GPT-2: grids, reproducibility with a seed, and the metrics of each cell."""

from __future__ import annotations

import pytest

from scribe.analysis.diversity import distinct_n, self_bleu, words
from scribe.analysis.sweep import Axis, check_axes, grid, parse_axis, run_sweep
from scribe.sampling.params import InvalidSetting, SamplingParams

BASE = SamplingParams(max_new_tokens=8, top_k=0, top_p=1.0)


def test_grids_parse_and_validate():
    assert parse_axis("temperature=0.1,0.7, 1.5") == Axis("temperature", (0.1, 0.7, 1.5))
    assert parse_axis("top-k=10,40") == Axis("top_k", (10, 40))
    for bad, message in (("temperature", "NAME=V1"), ("seed=1,2", "cannot sweep"), ("top_p=0.5,2", "top_p"),
                         ("top_k=1.5", "whole number"), ("colour=1", "cannot sweep"), ("top_k=5,5", "twice")):
        with pytest.raises(InvalidSetting, match=message):
            parse_axis(bad)
    with pytest.raises(InvalidSetting, match="one or two"):
        check_axes([Axis("top_k", (1,))] * 3)
    with pytest.raises(InvalidSetting, match="only once"):
        check_axes([Axis("top_k", (1,)), Axis("top_k", (2,))])
    assert grid([Axis("temperature", (0.5, 1.0)), Axis("top_k", (5, 50))]) == [
        {"temperature": 0.5, "top_k": 5}, {"temperature": 0.5, "top_k": 50},
        {"temperature": 1.0, "top_k": 5}, {"temperature": 1.0, "top_k": 50}]


def test_a_sweep_is_reproducible_with_its_seed(heads_backend):
    base = BASE.replace(max_new_tokens=5)
    axes = [Axis("temperature", (0.0, 1.5)), Axis("top_p", (0.5, 1.0))]
    seen: list[int] = []
    first = run_sweep(heads_backend, "The sea was", base, axes, 2, seed=11, on_cell=lambda i, n, c: seen.append(i))
    again = run_sweep(heads_backend, "The sea was", base, axes, 2, seed=11)
    # the same text token for token; log-probabilities agree to float precision (a warm prompt cache runs the prompt's
    # last token alone, a cold one runs the whole prompt: the same arithmetic in other matrix shapes)
    assert [[(s.seed, s.text, s.tokens, s.reason) for s in c.samples] for c in first.cells] == \
        [[(s.seed, s.text, s.tokens, s.reason) for s in c.samples] for c in again.cells]
    assert [c.mean_logprob for c in first.cells] == pytest.approx([c.mean_logprob for c in again.cells], rel=1e-5)
    assert seen == [0, 1, 2, 3]
    assert [c.settings for c in first.cells] == grid(axes)
    hot = first.cells[3]  # temperature 1.5, top_p 1.0: the samples differ
    assert [s.seed for s in hot.samples] == [11, 12] and hot.samples[0].text != hot.samples[1].text
    other = run_sweep(heads_backend, "The sea was", base, [Axis("temperature", (1.5,)), Axis("top_p", (1.0,))], 2,
                      seed=12)
    assert other.cells[0].samples[0].text == hot.samples[1].text  # seed 12 again, in any sweep
    assert other.cells[0].samples[1].text != hot.samples[0].text
    greedy = first.cells[0]  # temperature 0: the same text whatever the seed
    assert greedy.samples[0].text == greedy.samples[1].text


def test_cell_metrics_are_those_of_its_samples(heads_backend):
    result = run_sweep(heads_backend, "Once upon a time", BASE, [Axis("temperature", (1.0,))], 4, seed=3)
    (cell,) = result.cells
    tokenised = [words(s.text) for s in cell.samples]
    assert cell.distinct == (distinct_n(tokenised, 1), distinct_n(tokenised, 2), distinct_n(tokenised, 3))
    assert cell.self_bleu == self_bleu(tokenised)
    assert all(s.tokens == 8 and s.mean_logprob is not None and s.mean_logprob < 0 for s in cell.samples)
    assert cell.mean_logprob == pytest.approx(sum(s.mean_logprob for s in cell.samples) / 4)
    data = result.to_dict()
    assert data["cells"][0]["distinct_2"] == cell.distinct[1]
    assert data["axes"] == [{"name": "temperature", "values": [1.0]}]
