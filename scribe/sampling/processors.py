"""The logits processors, applied in one fixed order to the scores of the next token.

Order (`PROCESSOR_ORDER`) and definitions; a processor whose setting turns it off is skipped entirely:

1. repetition_penalty (CTRL, as transformers' `RepetitionPenaltyLogitsProcessor`): for every token present anywhere in
   input_ids (prompt included), a logit ``x`` becomes ``x * penalty`` when ``x < 0`` and ``x / penalty`` otherwise.
2. frequency_penalty and 3. presence_penalty (OpenAI): ``x -= count * frequency_penalty`` and
   ``x -= (count > 0) * presence_penalty``, where ``count`` is how often the token occurs among the GENERATED tokens
   (``input_ids[prompt_length:]``); prompt tokens are not counted.
4. no_repeat_ngram (transformers' `NoRepeatNGramLogitsProcessor`): any token that would complete an n-gram already
   present in input_ids (prompt included) gets -inf.
5. temperature: ``x / temperature``.
6. top_k (transformers' `TopKLogitsWarper`): tokens scoring below the k-th highest score get -inf (ties with the
   k-th are kept).
7. top_p (nucleus, transformers' `TopPLogitsWarper`): keep the smallest set of most likely tokens whose probability
   mass reaches p: a token goes when its own mass plus that of every less likely token is at most 1 - p, so the token
   that reaches p stays, and the most likely token always stays. Ties at the cut are broken by sort order.
8. min_p (transformers' `MinPLogitsWarper`): tokens whose probability is below ``min_p * max probability`` get -inf.
9. typical_p (transformers' `TypicalLogitsWarper`): sort tokens by how far their surprise ``-log p`` is from the
   entropy and keep the closest ones up to probability mass typical_p (at least one).

Greedy decoding (temperature 0) skips 5-9: the arg-max of the penalised scores is the only survivor, every other
token is removed by "greedy".

Probabilities in 7-9 are the softmax of the scores as they stand at that point. After top_k (or top_p) the scores are
kept as a short list of candidate tokens (every other token is -inf), so the later steps cost nothing on a large
vocabulary; without top_k, top_p looks at the most likely 64, 512, 4096, ... tokens until they hold mass p instead of
sorting the whole vocabulary.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from scribe.sampling.params import SamplingParams

if TYPE_CHECKING:
    import torch

PROCESSOR_ORDER: tuple[str, ...] = (
    "repetition_penalty",
    "frequency_penalty",
    "presence_penalty",
    "no_repeat_ngram",
    "temperature",
    "top_k",
    "top_p",
    "min_p",
    "typical_p",
)

_NEG_INF = float("-inf")
_FIRST_LOOK = 64


class Scores:
    """The next-token scores while they are processed: the whole vocabulary, or a short list of candidates.

    `ids` is None while `values` covers the whole vocabulary; otherwise `values[i]` is the score of token `ids[i]` and
    every token not listed scores -inf. Over the whole vocabulary the positions of the highest scores are remembered
    (at least 64, best first) until a change that can reorder them, so the alternatives, top_k and top_p share one
    partial sort.
    """

    def __init__(self, logits: "torch.Tensor") -> None:
        import torch

        vocab = logits.numel()
        # One spare slot past the vocabulary absorbs token ids the logits do not cover (embedding larger than lm_head).
        self._buffer = torch.empty(vocab + 1, dtype=torch.float32, device=logits.device)
        self._buffer[:vocab] = logits
        self.vocab = vocab
        self.values: torch.Tensor = self._buffer[:vocab]
        self.ids: torch.Tensor | None = None
        self._ranked: torch.Tensor | None = None

    def top(self, k: int) -> tuple["torch.Tensor", "torch.Tensor"]:
        """The k highest scores and their positions in `values`, best first."""
        if self._ranked is None or self._ranked.numel() < k:
            look = k if self.ids is not None else min(self.values.numel(), max(k, _FIRST_LOOK))
            positions = self.values.topk(look).indices
            self._ranked = positions if self.ids is None else None
        else:
            positions = self._ranked
        positions = positions[:k]
        return self.values[positions], positions

    def scale(self, divisor: float) -> None:
        """Divide every score by a positive number (keeps the order)."""
        self.values.div_(divisor)

    def remove(self, mask: "torch.Tensor") -> None:
        """Set the scores where `mask` (aligned with `values`) is True to -inf."""
        self.values.masked_fill_(mask, _NEG_INF)
        self._ranked = None

    def penalise_at(self, token_ids: "torch.Tensor") -> tuple["torch.Tensor", "torch.Tensor"]:
        """The full-vocabulary buffer and `token_ids` clamped into it, for the penalties (they run before any filter)."""
        self._ranked = None
        return self._buffer, token_ids.clamp(max=self.vocab)

    def keep(self, positions: "torch.Tensor", values: "torch.Tensor") -> None:
        """Narrow to the candidates at `positions` of the current `values`, with their new scores."""
        self.ids = positions if self.ids is None else self.ids[positions]
        self.values = values
        self._ranked = None

    def alive(self, token_ids: "torch.Tensor") -> "torch.Tensor":
        """Whether each of `token_ids` still has a finite score."""
        return self.gather(token_ids, self.values, _NEG_INF) > _NEG_INF

    def gather(self, token_ids: "torch.Tensor", per_candidate: "torch.Tensor", missing: float) -> "torch.Tensor":
        """`per_candidate` (aligned with `values`) looked up at `token_ids`; `missing` for tokens not in the list."""
        if self.ids is None:
            return per_candidate[token_ids]
        match = token_ids[:, None] == self.ids[None, :]
        picked = per_candidate[match.int().argmax(dim=1)]
        return picked.masked_fill(~match.any(dim=1), missing)

    def full(self) -> "torch.Tensor":
        """The scores over the whole vocabulary."""
        if self.ids is None:
            return self.values.clone()
        out = self.values.new_full((self.vocab,), _NEG_INF)
        return out.index_copy_(0, self.ids, self.values)


def enabled(params: SamplingParams) -> tuple[str, ...]:
    """The processors these settings turn on, in the order they run ("greedy" replaces 5-9 at temperature 0)."""
    on = {
        "repetition_penalty": params.repetition_penalty != 1.0,
        "frequency_penalty": params.frequency_penalty != 0.0,
        "presence_penalty": params.presence_penalty != 0.0,
        "no_repeat_ngram": params.no_repeat_ngram_size > 0,
        "temperature": not params.greedy and params.temperature != 1.0,
        "top_k": not params.greedy and params.top_k > 0,
        "top_p": not params.greedy and params.top_p < 1.0,
        "min_p": not params.greedy and params.min_p > 0.0,
        "typical_p": not params.greedy and params.typical_p < 1.0,
    }
    names = tuple(name for name in PROCESSOR_ORDER if on[name])
    return names + ("greedy",) if params.greedy else names


def run(scores: Scores, input_ids: "torch.Tensor", prompt_length: int, params: SamplingParams) -> Iterator[str]:
    """Apply the enabled processors to `scores` in place, yielding each one's name right after it ran."""
    generated = input_ids[prompt_length:]
    for name in enabled(params):
        if name == "repetition_penalty":
            _repetition_penalty(scores, input_ids, params.repetition_penalty)
        elif name == "frequency_penalty":
            _frequency_penalty(scores, generated, params.frequency_penalty)
        elif name == "presence_penalty":
            _presence_penalty(scores, generated, params.presence_penalty)
        elif name == "no_repeat_ngram":
            _no_repeat_ngram(scores, input_ids, params.no_repeat_ngram_size)
        elif name == "temperature":
            scores.scale(params.temperature)
        elif name == "top_k":
            _top_k(scores, params.top_k)
        elif name == "top_p":
            _top_p(scores, params.top_p)
        elif name == "min_p":
            _min_p(scores, params.min_p)
        elif name == "typical_p":
            _typical_p(scores, params.typical_p)
        else:
            _greedy(scores)
        yield name


def apply_processors(
    logits: "torch.Tensor", input_ids: "torch.Tensor", prompt_length: int, params: SamplingParams
) -> tuple["torch.Tensor", dict[str, "torch.Tensor"]]:
    """The processed scores over the whole vocabulary, and per processor a mask of the tokens it removed (set to -inf).

    Tokens that were already -inf in `logits` count as removed by no processor.
    """
    scores = Scores(logits)
    alive = scores.full() > _NEG_INF
    removed: dict[str, torch.Tensor] = {}
    for name in run(scores, input_ids, prompt_length, params):
        now = scores.full() > _NEG_INF
        removed[name] = alive & ~now
        alive = now
    return scores.full(), removed


def _repetition_penalty(scores: Scores, input_ids: "torch.Tensor", penalty: float) -> None:
    import torch

    buffer, ids = scores.penalise_at(input_ids)
    picked = buffer[ids]
    # Duplicate ids write the same value, so the penalty applies once per token.
    buffer[ids] = torch.where(picked < 0, picked * penalty, picked / penalty)


def _frequency_penalty(scores: Scores, generated: "torch.Tensor", penalty: float) -> None:
    buffer, ids = scores.penalise_at(generated)
    buffer.index_put_((ids,), buffer.new_full(ids.shape, -penalty), accumulate=True)


def _presence_penalty(scores: Scores, generated: "torch.Tensor", penalty: float) -> None:
    buffer, ids = scores.penalise_at(generated)
    buffer[ids] = buffer[ids] - penalty


def _no_repeat_ngram(scores: Scores, input_ids: "torch.Tensor", size: int) -> None:
    import torch

    length = input_ids.numel()
    if length < size:
        return
    buffer, ids = scores.penalise_at(input_ids)
    prefix = ids[length + 1 - size :]
    windows = ids.unfold(0, size, 1)
    matches = (windows[:, :-1] == prefix).all(dim=1)
    banned = torch.where(matches, windows[:, -1], scores.vocab)
    buffer.index_fill_(0, banned, _NEG_INF)


def _top_k(scores: Scores, k: int) -> None:
    values = scores.values
    if k >= values.numel():
        return
    # One more than k tells whether tokens outside the top k tie with the k-th; those are kept too.
    top, positions = scores.top(k + 1)
    if top[k] == top[k - 1] and top[k] > _NEG_INF:
        positions = (values >= top[k]).nonzero().squeeze(1)
        top = values[positions]
    else:
        top, positions = top[:k], positions[:k]
    scores.keep(positions, top)


def _top_p(scores: Scores, top_p: float) -> None:
    probs = scores.values.softmax(dim=0)
    total = probs.sum()
    size = probs.numel()
    look = min(size, _FIRST_LOOK)
    while True:
        values, positions = scores.top(look)
        top = probs[positions]
        # A token goes when the mass of it and every less likely token is at most 1 - top_p (as transformers
        # computes it); once that holds for the next token after the `look` most likely, it holds for all the rest.
        if look == size or bool(total - top.sum() <= 1 - top_p):
            break
        look = min(size, look * 8)
    removed = total - (top.cumsum(dim=0) - top) <= 1 - top_p
    removed[0] = False
    scores.keep(positions, values.masked_fill_(removed, _NEG_INF))


def _min_p(scores: Scores, min_p: float) -> None:
    probs = scores.values.softmax(dim=0)
    scores.remove(probs < min_p * probs.max())


def _typical_p(scores: Scores, mass: float) -> None:
    import torch

    values = scores.values
    log_probs = values.log_softmax(dim=0)
    entropy = -(log_probs * log_probs.exp()).nansum()
    distance = (-log_probs - entropy).abs()
    sorted_distance, order = torch.sort(distance)
    cumulative = values[order].softmax(dim=0).cumsum(dim=0)
    last = (cumulative < mass).sum().clamp(max=values.numel() - 1)
    removed_sorted = sorted_distance > sorted_distance[last]
    removed_sorted[0] = False
    scores.remove(removed_sorted.scatter(0, order, removed_sorted))


def _greedy(scores: Scores) -> None:
    best = scores.values.argmax().view(1)
    scores.keep(best, scores.values[best])
