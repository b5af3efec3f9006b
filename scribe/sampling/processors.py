"""The logits processors, applied in one fixed order to the scores of the next token.

Order (`PROCESSOR_ORDER`, or the writer's `sampler_order`: the names it lists first, the rest after them in this order)
and definitions; a processor whose setting turns it off is skipped entirely:

0a. logit_bias (OpenAI's `logit_bias`): ``x += bias`` for each listed token id.
0b. banned_tokens: each listed token id gets -inf.
   (Banned phrases are not a processor: the stream loop bans a phrase's first token at the position where the phrase
   began, and the X-ray names that "banned_phrases"; see `scribe.engine.streaming`.)
1. repetition_penalty (CTRL, as transformers' `RepetitionPenaltyLogitsProcessor`): for every token present anywhere in
   input_ids (prompt included), a logit ``x`` becomes ``x * penalty`` when ``x < 0`` and ``x / penalty`` otherwise.
2. frequency_penalty and 3. presence_penalty (OpenAI): ``x -= count * frequency_penalty`` and
   ``x -= (count > 0) * presence_penalty``, where ``count`` is how often the token occurs among the GENERATED tokens
   (``input_ids[prompt_length:]``); prompt tokens are not counted.
4. no_repeat_ngram (transformers' `NoRepeatNGramLogitsProcessor`): any token that would complete an n-gram already
   present in input_ids (prompt included) gets -inf.
5. dry ("don't repeat yourself", p-e-w, text-generation-webui PR #5677 `DRYLogitsProcessor`, also in koboldcpp and
   llama.cpp): for every earlier occurrence of the last token, the match is the longest run of tokens ending there
   that equals the run ending at the last token (at most 50 tokens, and no sequence breaker inside it); the token
   that followed that occurrence would extend the repeat. If its longest match is at least ``dry_allowed_length``,
   its logit loses ``dry_multiplier * dry_base ** (match_length - dry_allowed_length)``. Nothing is penalised when the
   last token is a breaker, and a breaker is never penalised. A token is a breaker when its text contains one of
   ``dry_sequence_breakers`` (llama.cpp's rule for breakers within one token). It looks at the whole input_ids
   (prompt included), like the other repetition penalties, and runs with them, before temperature, so that
   temperature scales the penalised scores as it scales every other logit.
6. temperature: ``x / temperature``.
6a. dynatemp (dynamic temperature, "entropy-based" form of KoboldCpp and llama.cpp's `llama_sampler_temp_ext`; replaces
   temperature when ``dynatemp_range > 0``): with ``p`` the softmax of the finite scores, ``n`` their count,
   ``H = -sum p log p`` and ``h = H / log n``, the scores are divided by ``t = t_min + (t_max - t_min) * h **
   dynatemp_exponent`` where ``t_min = max(0, temperature - dynatemp_range)`` and ``t_max = temperature +
   dynatemp_range`` (t 0: the arg-max alone survives).
6b. top_n_sigma (Tang et al. 2024, "Top-nσ: Not All Logits Are You Need", arXiv:2411.07641; llama.cpp's
   `llama_sampler_top_n_sigma`): tokens whose score is below ``max - n * σ`` get -inf, where max and the population
   standard deviation σ are over the finite scores. Scaling by a temperature scales both sides, so it keeps the same
   tokens before or after temperature.
7. top_k (transformers' `TopKLogitsWarper`): tokens scoring below the k-th highest score get -inf (ties with the
   k-th are kept).
8. top_p (nucleus, transformers' `TopPLogitsWarper`): keep the smallest set of most likely tokens whose probability
   mass reaches p: a token goes when its own mass plus that of every less likely token is at most 1 - p, so the token
   that reaches p stays, and the most likely token always stays. Ties at the cut are broken by sort order.
9. min_p (transformers' `MinPLogitsWarper`): tokens whose probability is below ``min_p * max probability`` get -inf.
10. typical_p (transformers' `TypicalLogitsWarper`): sort tokens by how far their surprise ``-log p`` is from the
   entropy and keep the closest ones up to probability mass typical_p (at least one).
11. xtc ("exclude top choices", p-e-w, text-generation-webui PR #6335 `XTCLogitsWarper`): with probability
   ``xtc_probability`` (one uniform draw per token from the sampler's seeded generator), when at least two tokens have
   probability ``>= xtc_threshold``, remove all of them except the least likely one. It comes after the truncation
   filters (as in text-generation-webui and llama.cpp) because it reshapes what they leave: the threshold is a
   probability in the distribution that is actually sampled, and removing the top choices first would let top_k /
   top_p / min_p refill the set from the tail. (Unlike text-generation-webui, newline and end-of-text tokens are not
   exempt: the sampler does not know which tokens those are.)
12. mirostat (mirostat v2, Basu et al. 2021 "Mirostat: a neural text decoding algorithm that directly controls
   perplexity", arXiv:2007.14966, in the v2 form of llama.cpp's `llama_sampler_mirostat_v2` and text-generation-webui's
   `MirostatLogitsWarper`): remove every token whose surprise ``-log2 p`` exceeds ``mu`` (the most likely token always
   stays). After the draw the sampler updates ``mu -= mirostat_eta * (-log2 p_chosen - mirostat_tau)``, where
   ``p_chosen`` is the chosen token's probability in the final (renormalised) distribution; ``mu`` starts at
   ``2 * mirostat_tau`` and lives in the Sampler across steps. It is last because its feedback needs the surprise of
   the token actually drawn from the distribution it cut; every filter before it only narrows what it sees. It is
   usually run alone with temperature 1.

Greedy decoding (temperature 0) skips 6-12 (6a and 6b too): the arg-max of the penalised scores is the only survivor, every other
token is removed by "greedy".

Beam search and contrastive search (`search.py`) are deterministic and use only the penalties (1-5).

Probabilities in 8-12 are the softmax of the scores as they stand at that point. After top_k (or top_p) the scores are
kept as a short list of candidate tokens (every other token is -inf), so the later steps cost nothing on a large
vocabulary; without top_k, top_p looks at the most likely 64, 512, 4096, ... tokens until they hold mass p instead of
sorting the whole vocabulary.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from scribe.sampling.params import (
    PROCESSOR_ORDER,
    SamplingParams,
    parse_breakers,
    parse_logit_bias,
    parse_sampler_order,
    parse_token_ids,
)

if TYPE_CHECKING:
    import torch

PENALTIES: tuple[str, ...] = PROCESSOR_ORDER[: PROCESSOR_ORDER.index("temperature")]
"""The processors that read the text so far rather than the shape of the distribution (1-5): the only ones the
deterministic searches apply."""

_NEG_INF = float("-inf")
_FIRST_LOOK = 64
_DRY_MAX_MATCH = 50

Ranker = Callable[["torch.Tensor", int], "torch.Tensor"]
"""`ranker(values, k)`: the positions of the k highest of `values` (1-D float32), best first, as `torch.topk` gives
them; the sampler's partial sort, which an engine with a faster one may hand to `Sampler`."""


def _torch_ranker(values: "torch.Tensor", k: int) -> "torch.Tensor":
    return values.topk(k).indices


class Scores:
    """The next-token scores while they are processed: the whole vocabulary, or a short list of candidates.

    `ids` is None while `values` covers the whole vocabulary; otherwise `values[i]` is the score of token `ids[i]` and
    every token not listed scores -inf. Over the whole vocabulary the positions of the highest scores are remembered
    (at least 64, best first) until a change that can reorder them, so the alternatives, top_k and top_p share one
    partial sort (`ranker`'s, else `torch.topk`'s).
    """

    def __init__(self, logits: "torch.Tensor", ranker: Ranker | None = None) -> None:
        import torch

        self._rank = ranker or _torch_ranker

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
            positions = self._rank(self.values, look)
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
        if self._leads_ids(token_ids):
            return per_candidate[: token_ids.numel()]
        match = token_ids[:, None] == self.ids[None, :]
        picked = per_candidate[match.int().argmax(dim=1)]
        return picked.masked_fill(~match.any(dim=1), missing)

    def _leads_ids(self, token_ids: "torch.Tensor") -> bool:
        """Whether `token_ids` are the first of the candidates' `ids`, in order: both the start of one ranking (the
        alternatives the sampler watches, and the candidates top_k or top_p kept, are views of the same ranked
        positions), which the lookup then needs no search for."""
        ids = self.ids
        return (ids is not None and token_ids.numel() <= ids.numel() and token_ids.data_ptr() == ids.data_ptr()
                and token_ids.dtype == ids.dtype and token_ids.stride(0) == 1 and ids.stride(0) == 1)

    def full(self) -> "torch.Tensor":
        """The scores over the whole vocabulary."""
        if self.ids is None:
            return self.values.clone()
        out = self.values.new_full((self.vocab,), _NEG_INF)
        return out.index_copy_(0, self.ids, self.values)


class Breakers:
    """Which tokens are DRY sequence breakers: those whose text contains one of the breaker strings (remembered per
    token id, so each token is decoded once)."""

    def __init__(self, breakers: str) -> None:
        self.strings = parse_breakers(breakers)
        self._known: dict[int, bool] = {}

    def test(self, decode: Callable[[int], str]) -> Callable[[int], bool]:
        """`is_breaker(token_id)` for `run`, reading token texts with `decode`."""
        known, strings = self._known, self.strings

        def is_breaker(token_id: int) -> bool:
            found = known.get(token_id)
            if found is None:
                text = decode(token_id)
                found = known[token_id] = any(s in text for s in strings)
            return found

        return is_breaker


def processor_order(params: SamplingParams) -> tuple[str, ...]:
    """The order the processors run in: the writer's `sampler_order`, else `PROCESSOR_ORDER`."""
    return parse_sampler_order(params.sampler_order) if params.sampler_order else PROCESSOR_ORDER


def enabled(params: SamplingParams) -> tuple[str, ...]:
    """The processors these settings turn on, in the order they run ("greedy" replaces the ones after the penalties
    at temperature 0)."""
    sampling = not params.greedy
    on = {
        "logit_bias": bool(params.logit_bias.strip()),
        "banned_tokens": bool(params.banned_tokens.strip()),
        "repetition_penalty": params.repetition_penalty != 1.0,
        "frequency_penalty": params.frequency_penalty != 0.0,
        "presence_penalty": params.presence_penalty != 0.0,
        "no_repeat_ngram": params.no_repeat_ngram_size > 0,
        "dry": params.dry_multiplier > 0.0,
        "temperature": sampling and params.temperature != 1.0 and params.dynatemp_range == 0.0,
        "dynatemp": sampling and params.dynatemp_range > 0.0,
        "top_n_sigma": sampling and params.top_n_sigma > 0.0,
        "top_k": not params.greedy and params.top_k > 0,
        "top_p": not params.greedy and params.top_p < 1.0,
        "min_p": not params.greedy and params.min_p > 0.0,
        "typical_p": not params.greedy and params.typical_p < 1.0,
        "xtc": not params.greedy and params.xtc_probability > 0.0,
        "mirostat": not params.greedy and params.mirostat_tau > 0.0,
    }
    names = tuple(name for name in processor_order(params) if on[name])
    return names + ("greedy",) if params.greedy else names


def run(
    scores: Scores,
    input_ids: "torch.Tensor",
    prompt_length: int,
    params: SamplingParams,
    *,
    only: tuple[str, ...] = PROCESSOR_ORDER + ("greedy",),
    is_breaker: Callable[[int], bool] | None = None,
    xtc_roll: "torch.Tensor | float" = 0.0,
    mu: float | None = None,
) -> Iterator[str]:
    """Apply the enabled processors (those of them in `only`) to `scores` in place, yielding each one's name right
    after it ran.

    `is_breaker(token_id)` says whether a token is a DRY sequence breaker (none is without it). `xtc_roll` is a uniform
    draw in [0, 1): XTC acts when it is below xtc_probability (0, the default, makes it act whenever it is on). `mu`
    is mirostat's running surprise limit in bits (None: its starting value, 2 * mirostat_tau).
    """
    generated = input_ids[prompt_length:]
    for name in enabled(params):
        if name not in only:
            continue
        if name == "logit_bias":
            _logit_bias(scores, parse_logit_bias(params.logit_bias))
        elif name == "banned_tokens":
            _banned_tokens(scores, parse_token_ids(params.banned_tokens))
        elif name == "repetition_penalty":
            _repetition_penalty(scores, input_ids, params.repetition_penalty)
        elif name == "frequency_penalty":
            _frequency_penalty(scores, generated, params.frequency_penalty)
        elif name == "presence_penalty":
            _presence_penalty(scores, generated, params.presence_penalty)
        elif name == "no_repeat_ngram":
            _no_repeat_ngram(scores, input_ids, params.no_repeat_ngram_size)
        elif name == "dry":
            _dry(scores, input_ids, params, is_breaker or _no_breakers)
        elif name == "temperature":
            scores.scale(params.temperature)
        elif name == "dynatemp":
            _dynamic_temperature(scores, params.temperature, params.dynatemp_range, params.dynatemp_exponent)
        elif name == "top_n_sigma":
            _top_n_sigma(scores, params.top_n_sigma)
        elif name == "top_k":
            _top_k(scores, params.top_k)
        elif name == "top_p":
            _top_p(scores, params.top_p)
        elif name == "min_p":
            _min_p(scores, params.min_p)
        elif name == "typical_p":
            _typical_p(scores, params.typical_p)
        elif name == "xtc":
            _xtc(scores, params.xtc_threshold, params.xtc_probability, xtc_roll)
        elif name == "mirostat":
            _mirostat(scores, 2 * params.mirostat_tau if mu is None else mu)
        else:
            _greedy(scores)
        yield name


def apply_processors(
    logits: "torch.Tensor",
    input_ids: "torch.Tensor",
    prompt_length: int,
    params: SamplingParams,
    **state: object,
) -> tuple["torch.Tensor", dict[str, "torch.Tensor"]]:
    """The processed scores over the whole vocabulary, and per processor a mask of the tokens it removed (set to -inf).

    Tokens that were already -inf in `logits` count as removed by no processor. `state` takes `run`'s keywords (only,
    is_breaker, xtc_roll, mu); without them XTC acts whenever it is on and mirostat uses its starting limit.
    """
    scores = Scores(logits)
    alive = scores.full() > _NEG_INF
    removed: dict[str, torch.Tensor] = {}
    for name in run(scores, input_ids, prompt_length, params, **state):  # type: ignore[arg-type]
        now = scores.full() > _NEG_INF
        removed[name] = alive & ~now
        alive = now
    return scores.full(), removed


def _logit_bias(scores: Scores, bias: dict[int, float]) -> None:
    import torch

    buffer, ids = scores.penalise_at(torch.tensor(list(bias), dtype=torch.long, device=scores.values.device))
    buffer.index_put_((ids,), torch.tensor(list(bias.values()), dtype=buffer.dtype, device=buffer.device),
                      accumulate=True)


def _banned_tokens(scores: Scores, banned: tuple[int, ...]) -> None:
    import torch

    buffer, ids = scores.penalise_at(torch.tensor(banned, dtype=torch.long, device=scores.values.device))
    buffer.index_fill_(0, ids, _NEG_INF)


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


def _no_breakers(token_id: int) -> bool:
    return False


def _dry(scores: Scores, input_ids: "torch.Tensor", params: SamplingParams, is_breaker: Callable[[int], bool]) -> None:
    import torch

    if input_ids.numel() < 2:
        return
    ids = input_ids.tolist()
    last = ids[-1]
    if is_breaker(last):
        return
    end = len(ids) - 1
    longest: dict[int, int] = {}
    for i in (input_ids[:-1] == last).nonzero().flatten().tolist():
        follower = ids[i + 1]
        if is_breaker(follower):
            continue
        length = 1
        while length < _DRY_MAX_MATCH and i - length >= 0:
            earlier = ids[end - length]
            if ids[i - length] != earlier or is_breaker(earlier):
                break
            length += 1
        longest[follower] = max(length, longest.get(follower, 0))
    allowed = params.dry_allowed_length
    hits = [(token, length) for token, length in longest.items() if length >= allowed]
    if not hits:
        return
    buffer, tokens = scores.penalise_at(torch.tensor([t for t, _ in hits], device=input_ids.device))
    penalties = [params.dry_multiplier * params.dry_base ** (length - allowed) for _, length in hits]
    buffer.index_put_((tokens,), -torch.tensor(penalties, dtype=buffer.dtype, device=buffer.device), accumulate=True)


def _dynamic_temperature(scores: Scores, temperature: float, spread: float, exponent: float) -> None:
    import math

    values = scores.values
    finite = values > _NEG_INF
    count = int(finite.sum())
    if count <= 1:
        return
    probs = values.softmax(dim=0)
    entropy = float(-(probs[finite] * probs[finite].log()).sum())
    normalised = min(max(entropy / math.log(count), 0.0), 1.0)
    low, high = max(temperature - spread, 0.0), temperature + spread
    chosen = low + (high - low) * normalised**exponent
    if chosen <= 0.0:
        _greedy(scores)
    else:
        scores.scale(chosen)


def _top_n_sigma(scores: Scores, n: float) -> None:
    values = scores.values
    finite = values[values > _NEG_INF]
    if finite.numel() <= 1:
        return
    cut = finite.max() - n * finite.std(correction=0)
    scores.remove(values < cut)


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


def _xtc(scores: Scores, threshold: float, probability: float, roll: "torch.Tensor | float") -> None:
    import torch

    values = scores.values
    # At most 1/threshold tokens can reach the threshold; one more shows where the top choices end.
    look = values.numel() if threshold <= 0 else min(values.numel(), int(1 / threshold) + 2)
    top, positions = scores.top(look)
    probs = values.softmax(dim=0)[positions]
    # A top choice goes when the next less likely token is a top choice too: all but the least likely one.
    removed_sorted = torch.zeros_like(probs, dtype=torch.bool)
    removed_sorted[:-1] = probs[1:] >= threshold
    if not torch.is_tensor(roll):
        roll = torch.tensor(roll, device=values.device)
    mask = torch.zeros_like(values, dtype=torch.bool)
    mask[positions] = removed_sorted & (roll < probability)
    scores.remove(mask)


def _mirostat(scores: Scores, mu: float) -> None:
    probs = scores.values.softmax(dim=0)
    scores.remove((-probs.log2() > mu) & (probs < probs.max()))


def _greedy(scores: Scores) -> None:
    # max over a dimension gives argmax's answer (the first of equal scores, a NaN before all) in a third of its time
    # on a CPU (26 against 74 us over 49,152 scores)
    best = scores.values.max(dim=0).indices.view(1)
    scores.keep(best, scores.values[best])
