"""Diversity metrics against values worked out by hand on fixed strings."""

from __future__ import annotations

import math

import pytest

from scribe.analysis.diversity import bleu, distinct_n, ngrams, repetition_rate, self_bleu, words

A = words("The cat sat on the mat.")[:-1]  # the cat sat on the mat
B = words("the cat sat on the hat")
C = words("a dog ran")


def test_words_are_lower_cased_with_punctuation_apart():
    assert words("Hello, World!  It's\nfine.") == ["hello", ",", "world", "!", "it", "'", "s", "fine", "."]
    assert ngrams(["a", "b", "c"], 2) == [("a", "b"), ("b", "c")] and ngrams(["a"], 2) == []


def test_distinct_n_pools_the_samples():
    assert distinct_n([A], 1) == pytest.approx(5 / 6)  # "the" twice
    assert distinct_n([A], 2) == 1.0
    assert distinct_n([A, B], 1) == pytest.approx(6 / 12)
    assert distinct_n([A, B], 2) == pytest.approx(6 / 10)
    assert distinct_n([A, B], 3) == pytest.approx(5 / 8)
    assert distinct_n([C], 4) is None


def test_repetition_rate_counts_repeated_ngrams_within_a_sample():
    looping = words("the cat the cat the cat")
    assert repetition_rate(looping, 4) == pytest.approx(1 - 2 / 3)
    assert repetition_rate(looping, 2) == pytest.approx(1 - 2 / 5)
    assert repetition_rate(A, 4) == 0.0
    assert repetition_rate(C, 4) is None


def test_bleu_clipped_precisions_and_brevity_penalty():
    # p1 = 5/6 (mat unmatched), p2 = 4/5, p3 = 3/4, p4 = 2/3; equal lengths: no penalty.
    assert bleu(A, [B]) == pytest.approx((5 / 6 * 4 / 5 * 3 / 4 * 2 / 3) ** 0.25)
    assert bleu(A, [A]) == pytest.approx(1.0)
    # A shorter candidate with every n-gram matched pays exp(1 - r/c).
    assert bleu(words("the cat sat on"), [A]) == pytest.approx(math.exp(1 - 6 / 4))
    # Reference lengths 3 and 5 are equally close to 4: the shorter one counts, so no penalty.
    assert bleu(words("the cat sat on"), [words("the cat sat"), words("the cat sat on the")]) == pytest.approx(1.0)
    # Clipping: "the the the the" matches "the" at most twice in A; no bigram matches, so BLEU is 0 (no smoothing).
    assert bleu(words("the the the the"), [A]) == 0.0
    assert bleu(C, [A, B]) == 0.0 and bleu([], [A]) == 0.0


def test_self_bleu_is_the_mean_bleu_against_the_other_samples():
    pair = (5 / 6 * 4 / 5 * 3 / 4 * 2 / 3) ** 0.25
    assert self_bleu([A, B]) == pytest.approx(pair)
    assert self_bleu([A, B, C]) == pytest.approx(2 * pair / 3)  # C shares nothing; A and B find each other
    assert self_bleu([A, A, A]) == pytest.approx(1.0)
    assert self_bleu([A]) is None
