"""Deterministic searches instead of sampling: beam search and contrastive search, for any backend that can run a
`ModelStep`.

Both give the token ids of transformers' `generate()` for the same settings (batch of one):

- Beam search (`num_beams > 1`; transformers' `_beam_search` with `do_sample=False`): every step extends each of the
  `num_beams` running beams by every token, keeps the `2 * num_beams` (more with several end tokens) best candidates
  by summed log-probability, moves candidates that end (an end token, or the length limit) among the best
  `num_beams` into the finished list with score ``sum_logprobs / generated_length ** length_penalty``, and continues
  the `num_beams` best candidates that did not end. `early_stopping`: "heuristic" (transformers' False) stops when
  the best running beam, scored at its current length, cannot beat the worst of `num_beams` finished ones; "true"
  stops as soon as `num_beams` beams have finished; "never" scores the running beam at the longest length it could
  reach when length_penalty > 0. The result is the best finished beam. The token ids are not final one by one:
  `beam_search` yields a token once every beam that could still win starts with it (the common prefix of the running
  beams and the finished ones), and the rest when the search ends.
- Contrastive search (`penalty_alpha > 0`; Su et al. 2022, "A Contrastive Framework for Neural Text Generation",
  arXiv:2202.06417, as transformers 4.x `_contrastive_search`): among the `top_k` (4 when top_k is 0) most likely
  next tokens, choose the one with the highest ``(1 - alpha) * p(v) - alpha * max_j cos(h_v, h_j)``, where ``h_v``
  is the model's last hidden state for the candidate and ``h_j`` those of every earlier token (prompt included).
  Every token is final as soon as it is chosen.

The penalties (repetition, frequency, presence, no-repeat-ngram, DRY; `processors.PENALTIES`) apply as in
transformers: beam search to the log-probabilities, contrastive search to the logits. Temperature, the truncation
filters, XTC and mirostat do not apply, and the seed means nothing. Each yielded `SampleResult` reports the chosen
token with final probability 1 (the choice is deterministic, as for greedy decoding); every other alternative is
"removed" by the penalty that banned it, by "top_k" (contrastive search's candidates), or by the search itself
("beam_search", "contrastive_search").
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Protocol

from scribe.types import Alternative
from scribe.sampling.params import SamplingParams
from scribe.sampling.processors import PENALTIES, Breakers, apply_processors, enabled
from scribe.sampling.sampler import SampleResult

if TYPE_CHECKING:
    import torch

_NEG = -1.0e9  # transformers' "impossible" score: finite, so sums and divisions stay ordered


class ModelStep(Protocol):
    """One forward pass of a batch of sequences sharing a key/value cache."""

    def __call__(
        self, input_ids: "torch.Tensor", cache: object | None, beam_indices: "torch.Tensor | None", hidden: bool
    ) -> tuple["torch.Tensor", "torch.Tensor | None", object]:
        """Run `input_ids` ([rows, new]: each row's new tokens) after the cached tokens.

        `cache` is what the previous call returned (None the first time); when `beam_indices` ([rows], long) is given,
        row r first continues the cached row `beam_indices[r]` (rows may be repeated, so one cached row can become
        many). Returns the next-token logits of each row ([rows, vocab], float32), the last layer's hidden states of
        the new positions ([rows, new, dim], float32) when `hidden` is true (else None), and the new cache.
        """
        ...


def search(
    step: ModelStep,
    prompt_ids: "torch.Tensor",
    params: SamplingParams,
    *,
    max_new_tokens: int,
    eos_ids: frozenset[int] = frozenset(),
    alternatives: int = 5,
    decode: Callable[[int], str] = str,
    cancelled: Callable[[], bool] = lambda: False,
) -> Iterator[SampleResult]:
    """The tokens `params.search` ("beam" or "contrastive") chooses after `prompt_ids` (1-D), final ones first.

    At most `max_new_tokens` tokens; an end token (in `eos_ids`) is yielded and ends the search. `cancelled` is asked
    before every forward pass; when it says yes the search ends without yielding the undecided tokens.
    """
    kind = params.search
    if max_new_tokens < 1:
        return iter(())
    if kind == "beam":
        return beam_search(step, prompt_ids, params, max_new_tokens=max_new_tokens, eos_ids=eos_ids,
                           alternatives=alternatives, decode=decode, cancelled=cancelled)  # fmt: skip
    if kind == "contrastive":
        return contrastive_search(step, prompt_ids, params, max_new_tokens=max_new_tokens, eos_ids=eos_ids,
                                  alternatives=alternatives, decode=decode, cancelled=cancelled)  # fmt: skip
    raise ValueError("these settings ask for sampling, not a search (num_beams 1 and penalty_alpha 0)")


class _Penalties:
    """The penalty processors on rows of scores, with which of them banned each watched alternative."""

    def __init__(self, params: SamplingParams, prompt_length: int, decode: Callable[[int], str]) -> None:
        self.params = params
        self.names = tuple(n for n in enabled(params) if n in PENALTIES)
        self.prompt_length = prompt_length
        self.is_breaker = Breakers(params.dry_sequence_breakers).test(decode) if "dry" in self.names else None

    def apply(
        self, scores: "torch.Tensor", sequences: "torch.Tensor", watched: "torch.Tensor"
    ) -> tuple["torch.Tensor", "torch.Tensor"]:
        """`scores` ([rows, vocab]) after the penalties, each row with its own sequence ([rows, length]); and per row
        and watched token ([rows, A]) the index + 1 in `self.names` of the penalty that banned it, 0 for none."""
        import torch

        codes = torch.zeros(watched.shape, dtype=torch.long, device=scores.device)
        if not self.names:
            return scores, codes
        rows = []
        for r in range(scores.shape[0]):
            processed, removed = apply_processors(scores[r], sequences[r], self.prompt_length, self.params,
                                                  only=self.names, is_breaker=self.is_breaker)  # fmt: skip
            for index, name in enumerate(self.names, start=1):  # a token is removed once, by one processor
                codes[r] += removed[name][watched[r]].long() * index
            rows.append(processed)
        return torch.stack(rows), codes

    def reason(self, code: int, search: str) -> str:
        return self.names[code - 1] if code else search


def _result(token: int, raw_prob: float, alt_ids: list[int], alt_raw: list[float], reasons: list[str],
            decode: Callable[[int], str]) -> SampleResult:  # fmt: skip
    """A deterministic choice as a SampleResult: the chosen token has final probability 1, every other 0."""
    alts = tuple(
        Alternative(token_id=t, text=decode(t), raw_prob=p, final_prob=1.0 if t == token else 0.0,
                    removed_by=None if t == token else why)  # fmt: skip
        for t, p, why in zip(alt_ids, alt_raw, reasons)
    )
    return SampleResult(token_id=token, raw_prob=raw_prob, final_prob=1.0, alternatives=alts)


def beam_search(
    step: ModelStep,
    prompt_ids: "torch.Tensor",
    params: SamplingParams,
    *,
    max_new_tokens: int,
    eos_ids: frozenset[int] = frozenset(),
    alternatives: int = 5,
    decode: Callable[[int], str] = str,
    cancelled: Callable[[], bool] = lambda: False,
) -> Iterator[SampleResult]:
    """Beam search (see the module docstring); yields the best beam's tokens as soon as every beam agrees on them."""
    import torch

    device = prompt_ids.device
    beams = params.num_beams
    keep = max(2, 1 + len(eos_ids)) * beams
    prompt_length = prompt_ids.numel()
    total = prompt_length + max_new_tokens
    penalties = _Penalties(params, prompt_length, decode)
    eos = torch.tensor(sorted(eos_ids), dtype=torch.long, device=device)
    width = 1 + 3 * alternatives  # per generated token: raw prob, then alternative ids, raw probs, ban codes

    running = prompt_ids.new_zeros((beams, total))
    running[:, :prompt_length] = prompt_ids
    running_info = torch.zeros((beams, max_new_tokens, width), dtype=torch.float64, device=device)
    running_scores = torch.full((beams,), _NEG, device=device)
    running_scores[0] = 0.0
    finished = running.clone()
    finished_info = running_info.clone()
    finished_scores = torch.full((beams,), _NEG, device=device)
    finished_lengths = torch.zeros(beams, dtype=torch.long, device=device)
    is_finished = torch.zeros(beams, dtype=torch.bool, device=device)
    top_beams = torch.arange(keep, device=device) < beams
    improvable = True
    emitted = 0

    def emit(sequence: "torch.Tensor", info: "torch.Tensor", upto: int) -> Iterator[SampleResult]:
        nonlocal emitted
        rows = info[emitted:upto].tolist()
        tokens = sequence[prompt_length + emitted : prompt_length + upto].tolist()
        for token, row in zip(tokens, rows):
            ids = [int(t) for t in row[1 : 1 + alternatives]]
            codes = [int(c) for c in row[1 + 2 * alternatives :]]
            reasons = [penalties.reason(c, "beam_search") for c in codes]
            yield _result(token, row[0], ids, row[1 + alternatives : 1 + 2 * alternatives], reasons, decode)
        emitted = max(emitted, upto)

    if cancelled():
        return
    logits, _, cache = step(prompt_ids[None], None, None, False)
    logits = logits.expand(beams, -1)
    length = prompt_length
    while True:
        vocab = logits.shape[-1]
        raw = logits.softmax(dim=-1)
        raw_top, alt_ids = raw.topk(min(alternatives, vocab), dim=-1)
        log_probs, codes = penalties.apply(logits.log_softmax(dim=-1), running[:, :length], alt_ids)
        scores, flat = (log_probs + running_scores[:, None]).view(-1).topk(keep)
        parents, tokens = flat // vocab, flat % vocab
        candidates = running[parents]
        candidates[:, length] = tokens
        info = running_info[parents]
        info[:, length - prompt_length, 0] = raw[parents, tokens].double()
        info[:, length - prompt_length, 1:] = torch.cat([alt_ids, raw_top, codes], dim=1).double()[parents]
        ends = torch.isin(tokens, eos) | (length + 1 >= total)

        # The best candidates that go on.
        order = (scores + ends.float() * _NEG).topk(beams).indices
        running, running_info = candidates[order], info[order]
        running_scores = (scores + ends.float() * _NEG)[order]
        beam_indices = parents[order]

        # The best candidates that ended join the finished beams if they beat them.
        done_scores = scores / ((length + 1 - prompt_length) ** params.length_penalty)
        if bool(is_finished.all()) and params.early_stopping == "true" or not improvable:
            done_scores = done_scores + _NEG
        done_scores = done_scores + (~(ends & top_beams)).float() * _NEG
        merged_scores = torch.cat([finished_scores, done_scores])
        best = merged_scores.topk(beams).indices
        finished = torch.cat([finished, candidates])[best]
        finished_info = torch.cat([finished_info, info])[best]
        finished_lengths = torch.cat([finished_lengths, finished_lengths.new_full((keep,), length + 1)])[best]
        is_finished = torch.cat([is_finished, ends & top_beams])[best]
        finished_scores = merged_scores[best]
        length += 1

        # Can a running beam still beat the finished ones?
        if params.early_stopping == "never" and params.length_penalty > 0:
            best_length = max_new_tokens
        else:
            best_length = length - prompt_length
        best_possible = running_scores[0] / (best_length**params.length_penalty)
        worst_finished = torch.where(is_finished, finished_scores.min(), _NEG)
        improvable = improvable and bool((best_possible > worst_finished).any())
        over = not improvable or bool(is_finished.all()) and params.early_stopping == "true" or bool(ends.all())
        if over:
            break
        # Tokens every beam that can still win agrees on are final.
        contenders = torch.cat([running[:, :length], finished[is_finished, :length]])
        agree = (contenders == contenders[:1]).all(dim=0)[prompt_length:]
        settled = int(agree.int().cumprod(dim=0).sum())
        shortest = int(finished_lengths[is_finished].min()) - prompt_length if bool(is_finished.any()) else settled
        yield from emit(running[0], running_info[0], min(settled, shortest))
        if cancelled():
            return
        logits, _, cache = step(running[:, length - 1 : length], cache, beam_indices, False)

    yield from emit(finished[0], finished_info[0], int(finished_lengths[0]) - prompt_length)


def contrastive_search(
    step: ModelStep,
    prompt_ids: "torch.Tensor",
    params: SamplingParams,
    *,
    max_new_tokens: int,
    eos_ids: frozenset[int] = frozenset(),
    alternatives: int = 5,
    decode: Callable[[int], str] = str,
    cancelled: Callable[[], bool] = lambda: False,
) -> Iterator[SampleResult]:
    """Contrastive search (see the module docstring); every token is yielded as soon as it is chosen."""
    import torch

    alpha = params.penalty_alpha
    prompt_length = prompt_ids.numel()
    penalties = _Penalties(params, prompt_length, decode)
    sequence = prompt_ids.clone()
    if cancelled():
        return
    logits, context, cache = step(prompt_ids[None], None, None, True)
    logits, context = logits[0], context[0]
    chosen = 0  # the cache row the candidates continue: the prompt's, then the chosen candidate's
    for _ in range(max_new_tokens):
        k = min(params.top_k or 4, logits.numel())
        raw_top, alt_ids = logits.softmax(dim=-1).topk(min(alternatives, logits.numel()))
        processed, codes = penalties.apply(logits[None].float(), sequence[None], alt_ids[None])
        candidate_probs, candidates = processed[0].softmax(dim=-1).topk(k)
        if cancelled():
            return
        rows = torch.full((k,), chosen, dtype=torch.long, device=sequence.device)
        candidate_logits, hidden, cache = step(candidates[:, None], cache, rows, True)
        hidden = hidden[:, -1]
        similarity = _unit(hidden) @ _unit(context).T  # [k, context]
        score = (1.0 - alpha) * candidate_probs - alpha * similarity.max(dim=-1).values
        chosen = int(score.argmax())
        token = int(candidates[chosen])
        in_candidates = torch.isin(alt_ids, candidates).tolist()
        reasons = [
            penalties.reason(c, "contrastive_search" if inside else "top_k")
            for c, inside in zip(codes[0].tolist(), in_candidates)
        ]
        yield _result(token, float(logits.softmax(dim=-1)[token]), alt_ids.tolist(), raw_top.tolist(), reasons, decode)
        if token in eos_ids:
            return
        sequence = torch.cat([sequence, candidates[chosen : chosen + 1]])
        context = torch.cat([context, hidden[chosen : chosen + 1]])
        logits = candidate_logits[chosen]


def _unit(vectors: "torch.Tensor") -> "torch.Tensor":
    return vectors / vectors.norm(dim=-1, keepdim=True)
