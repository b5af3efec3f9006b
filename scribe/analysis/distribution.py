"""The next-token distribution at one position of an analysed text, and where the sampling settings cut it.

The cuts come from `scribe.sampling.processors.apply_processors` (the same code the sampler runs), so what is shown
is exactly what sampling at these settings would do: each candidate says which processor removed it, and each
enabled processor how many tokens it left.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scribe.engine.introspect import ForwardPass
from scribe.sampling.params import SamplingParams

TOP = 20
"""Candidates shown by default."""


@dataclass(frozen=True)
class Candidate:
    """One possible next token."""

    rank: int
    """1 for the most likely token of the raw distribution."""
    token_id: int
    text: str
    prob: float
    """Raw probability (softmax of the logits)."""
    cumulative: float
    """Raw probability of this token and every more likely one."""
    final_prob: float
    """Probability in the distribution sampling draws from (0 when removed)."""
    removed_by: str | None
    """The processor that removed it, or None when it can be drawn."""


@dataclass(frozen=True)
class Cut:
    """One enabled processor and how many tokens were still possible after it ran."""

    processor: str
    kept: int


@dataclass(frozen=True)
class Distribution:
    """The next-token distribution after token `position` (an index into the analysed tokens)."""

    position: int
    after: str
    """The text of the token at `position` (the last one the model saw)."""
    candidates: tuple[Candidate, ...]
    cuts: tuple[Cut, ...]
    entropy_bits: float
    """Entropy of the raw distribution."""
    vocab: int
    actual: Candidate | None
    """The token that really follows in the text (None at the end), with its rank."""

    def cut_before(self, index: int) -> tuple[Cut, ...]:
        """The cuts that fall just before `candidates[index]`: processors that removed it but no more likely one."""
        names = {c.removed_by for c in self.candidates[:index]}
        here = self.candidates[index].removed_by
        return tuple(cut for cut in self.cuts if cut.processor == here and here not in names)


def distribution_at(analysed: ForwardPass, position: int, params: SamplingParams, top: int = TOP) -> Distribution:
    """The distribution after token `position` of `analysed` (negative counts from the end) under `params`."""
    import torch

    from scribe.sampling.processors import apply_processors

    count = len(analysed.ids)
    if not -count <= position < count:
        raise IndexError(f"position {position} is outside the {count} analysed tokens")
    position %= count
    logits = analysed.logits[position]
    input_ids = torch.tensor(analysed.ids[: position + 1], dtype=torch.long)
    processed, removed = apply_processors(logits, input_ids, min(analysed.prompt_length, position + 1), params)
    raw = logits.softmax(dim=0)
    final = processed.softmax(dim=0)
    alive = logits > -math.inf
    cuts = []
    for name, mask in removed.items():
        alive = alive & ~mask
        cuts.append(Cut(name, int(alive.sum())))
    names = list(removed)
    log_raw = logits.log_softmax(dim=0)
    entropy = float(-(raw * log_raw).nansum()) / math.log(2)

    def candidate(token_id: int, rank: int, cumulative: float) -> Candidate:
        by = next((name for name in names if bool(removed[name][token_id])), None)
        return Candidate(rank=rank, token_id=token_id, text=_text(analysed, token_id), prob=float(raw[token_id]),
                         cumulative=cumulative, final_prob=float(final[token_id]), removed_by=by)

    values, ids = raw.topk(min(top, int((logits > -math.inf).sum())))  # tokens the model rules out are not listed
    cumulative = values.double().cumsum(dim=0).tolist()
    candidates = tuple(candidate(int(i), r + 1, c) for r, (i, c) in enumerate(zip(ids.tolist(), cumulative)))
    actual = None
    if position + 1 < count:
        token = analysed.ids[position + 1]
        rank = int((raw > raw[token]).sum()) + 1
        actual = candidate(token, rank, float(raw[raw >= raw[token]].double().sum()))
    return Distribution(position=position, after=analysed.texts[position], candidates=candidates, cuts=tuple(cuts),
                        entropy_bits=entropy, vocab=raw.numel(), actual=actual)


def _text(analysed: ForwardPass, token_id: int) -> str:
    try:
        return analysed.decode(token_id)
    except (KeyError, IndexError, ValueError):
        return f"<{token_id}>"
