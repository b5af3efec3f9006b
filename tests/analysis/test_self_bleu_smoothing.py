"""Smoothed self-BLEU (Chen & Cherry method 1, epsilon 0.1), checked against values worked out by hand."""

from __future__ import annotations

import math

import pytest

from scribe.analysis.diversity import bleu, self_bleu, words

A = words("the cat sat on the mat")
D = words("the cat ran off")  # shares "the", "cat" and "the cat" with A, but no trigram or 4-gram


def test_a_missing_ngram_order_counts_epsilon_matches_instead_of_zeroing_the_score() -> None:
    assert bleu(D, [A]) == 0.0  # unsmoothed: no trigram in common
    # p1 = 2/4, p2 = 1/3, p3 = 0.1/2, p4 = 0.1/1; reference length 6 > 4: brevity exp(1 - 6/4)
    expected = math.exp(1 - 6 / 4) * (2 / 4 * 1 / 3 * 0.1 / 2 * 0.1 / 1) ** 0.25
    assert bleu(D, [A], epsilon=0.1) == pytest.approx(expected)
    # a candidate shorter than n has no n-grams: epsilon out of one
    short = words("the cat")
    assert bleu(short, [A], epsilon=0.1) == pytest.approx(math.exp(1 - 6 / 2) * (1 * 1 * 0.1 * 0.1) ** 0.25)
    assert bleu(words("a dog"), [A], epsilon=0.1) == 0.0  # no word in common: still 0


def test_self_bleu_is_smoothed_so_short_samples_do_not_all_read_zero() -> None:
    samples = [words("the old man walked home"), words("the old woman sat down"), words("a dog barked at night")]
    assert self_bleu(samples, epsilon=None) == 0.0  # what the sweep showed before: every cell 0.000
    smoothed = self_bleu(samples)
    assert smoothed is not None and 0 < smoothed < 1
    # the first two share "the old": each scores p1 = 2/5, p2 = 1/4, p3 = 0.1/3, p4 = 0.1/2; the third shares nothing
    one = (2 / 5 * 1 / 4 * 0.1 / 3 * 0.1 / 2) ** 0.25
    assert smoothed == pytest.approx(2 * one / 3)
    repetitive = [words("the old man walked home"), words("the old man walked away"), words("the old man sat")]
    assert self_bleu(repetitive) > smoothed  # more alike samples still score higher
