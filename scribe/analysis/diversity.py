"""Diversity and repetition of generated text: distinct-n, repetition rate, BLEU and self-BLEU.

Texts are compared as sequences of words (`words`: runs of letters and digits, and single punctuation marks,
lower-cased), so the numbers do not depend on any model's tokenizer.

- distinct-n (Li et al. 2016): distinct n-grams / all n-grams, pooled over every sample.
- repetition rate (seq-rep-n of Welleck et al. 2019): within one sample, 1 - distinct n-grams / all n-grams;
  averaged over the samples. 0 when no n-gram repeats.
- BLEU (Papineni et al. 2002): the geometric mean of the clipped n-gram precisions for n = 1..4 with equal weights,
  times the brevity penalty exp(1 - r/c) when the candidate length c is shorter than the reference length r (the
  reference length closest to c; the shorter one on a tie). Unsmoothed by default: a zero precision gives BLEU 0.
- smoothing (`epsilon`): method 1 of Chen & Cherry (2014), NLTK's `SmoothingFunction().method1`: an n-gram order
  with no match (or no n-gram at all, in a candidate shorter than n) counts epsilon matches out of its n-grams (at
  least one) instead of zero, so one missing 4-gram does not send the whole score to 0; a candidate sharing no word
  with the references still scores 0, as in NLTK.
- self-BLEU (Zhu et al. 2018): the mean BLEU of each sample against all the other samples as references, smoothed
  with epsilon 0.1 as in Texygen, the benchmark that introduced it: short samples that share words but no 4-gram
  score above 0, so the sweep can still tell more repetitive settings from less repetitive ones.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

_WORD = re.compile(r"\w+|[^\w\s]")
SELF_BLEU_EPSILON = 0.1
"""Chen & Cherry method-1 smoothing of self-BLEU (Texygen's setting)."""


def words(text: str) -> list[str]:
    """The text as lower-cased words and punctuation marks."""
    return _WORD.findall(text.lower())


def ngrams(tokens: Sequence[str], n: int) -> list[tuple[str, ...]]:
    """The n-grams of `tokens` in order (none when there are fewer than n tokens)."""
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def distinct_n(samples: Sequence[Sequence[str]], n: int) -> float | None:
    """Distinct n-grams over all n-grams, pooled over the samples; None when there are no n-grams."""
    pooled = [gram for sample in samples for gram in ngrams(sample, n)]
    return len(set(pooled)) / len(pooled) if pooled else None


def repetition_rate(sample: Sequence[str], n: int = 4) -> float | None:
    """The share of n-grams in one sample that repeat an n-gram seen earlier in it; None when it has no n-grams."""
    grams = ngrams(sample, n)
    return 1 - len(set(grams)) / len(grams) if grams else None


def bleu(candidate: Sequence[str], references: Sequence[Sequence[str]], max_n: int = 4,
         epsilon: float | None = None) -> float:
    """Sentence BLEU of `candidate` against `references` (standard definition, uniform weights); unsmoothed, or with
    Chen & Cherry method-1 smoothing when `epsilon` is given (module docstring)."""
    if not candidate or not references:
        return 0.0
    log_precision = 0.0
    for n in range(1, max_n + 1):
        counts = Counter(ngrams(candidate, n))
        total = sum(counts.values())
        most = Counter[tuple[str, ...]]()
        for reference in references:
            most |= Counter(ngrams(reference, n))
        clipped = sum(min(count, most[gram]) for gram, count in counts.items())
        if clipped == 0:
            if not epsilon or n == 1:  # no word in common: 0 even smoothed, as in NLTK
                return 0.0
            log_precision += math.log(epsilon / max(total, 1)) / max_n
            continue
        log_precision += math.log(clipped / total) / max_n
    c = len(candidate)
    r = min((abs(len(ref) - c), len(ref)) for ref in references)[1]
    brevity = 1.0 if c > r else math.exp(1 - r / c)
    return brevity * math.exp(log_precision)


def self_bleu(samples: Sequence[Sequence[str]], max_n: int = 4, epsilon: float | None = SELF_BLEU_EPSILON
              ) -> float | None:
    """Mean smoothed BLEU of each sample against the others; None with fewer than two samples."""
    if len(samples) < 2:
        return None
    scores = [bleu(sample, [*samples[:i], *samples[i + 1 :]], max_n, epsilon) for i, sample in enumerate(samples)]
    return sum(scores) / len(scores)
