"""The one sampler every backend uses: processes the next-token logits (see processors.py for the order and the
definitions) and picks a token with its own seeded random generator, reporting what the processors did to the
most likely alternatives.

Works on CPU and CUDA tensors; each step reads its results back from the device once.

State across steps: the seeded generator (draws, and XTC's one roll per step while it is on), mirostat's running
limit `mu`, and which tokens are DRY sequence breakers (found from `decode`'s text, remembered per token id).
"""

from __future__ import annotations

import bisect
import itertools
import math
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from scribe.types import Alternative
from scribe.sampling.params import SamplingParams
from scribe.sampling.processors import PROCESSOR_ORDER, Breakers, Ranker, Scores, apply_processors, enabled, run

if TYPE_CHECKING:
    import torch

__all__ = ["PROCESSOR_ORDER", "SampleResult", "Sampler", "apply_processors"]

_PYTHON_DRAW = 256
"""Candidates up to which a draw sums their probabilities in Python (fewer tensor calls than the cumulative sum)."""


@dataclass(frozen=True)
class SampleResult:
    """The chosen token and what the sampler saw."""

    token_id: int
    raw_prob: float
    """Softmax of the raw logits at `token_id`."""
    final_prob: float
    """Probability of `token_id` in the final sampling distribution."""
    alternatives: tuple[Alternative, ...]
    """The most likely tokens of the RAW distribution, most likely first, with what the processors did to them."""


class Sampler:
    """Chooses next tokens under one `SamplingParams`; the same seed gives the same choices for the same logits."""

    def __init__(self, params: SamplingParams, *, device: "torch.device | str" = "cpu",
                 ranker: Ranker | None = None) -> None:
        """`ranker`: a faster partial sort than `torch.topk` for these logits' device, where the engine has one."""
        import torch

        self.params = params
        self._ranker = ranker
        self.device = torch.device(device)
        self.seed: int = secrets.randbelow(2**63) if params.seed is None else params.seed
        """The seed in use (drawn at random when params.seed is None): pass it as params.seed to repeat the choices."""
        self._generator = torch.Generator(device=self.device)
        self._generator.manual_seed(self.seed)
        on = enabled(params)
        self._xtc = "xtc" in on
        self._mirostat = "mirostat" in on
        self.mu: float = 2 * params.mirostat_tau
        """Mirostat v2's surprise limit in bits, updated after every step while mirostat is on."""
        self._breakers = Breakers(params.dry_sequence_breakers) if "dry" in on else None

    def step(
        self,
        logits: "torch.Tensor",
        input_ids: "torch.Tensor",
        prompt_length: int,
        *,
        alternatives: int = 5,
        decode: Callable[[int], str] = str,
        banned: Sequence[int] = (),
    ) -> SampleResult:
        """Choose the next token from `logits` ([vocab]) given `input_ids` (prompt then generated tokens so far).

        `banned`: tokens removed at this position before every processor, because they begin a banned phrase here
        (the X-ray names them "banned_phrases")."""
        import torch

        if logits.dim() != 1 or input_ids.dim() != 1:
            raise ValueError("logits and input_ids must be 1-D tensors")
        if not 0 <= prompt_length <= input_ids.numel():
            raise ValueError(f"prompt_length {prompt_length} is outside 0..{input_ids.numel()}")
        raw = logits.detach().to(self.device, torch.float32)
        input_ids = input_ids.to(self.device)
        scores = Scores(raw, self._ranker)
        watched = scores.top(min(alternatives, raw.numel()))[1]
        names: list[str] = []
        alive = [raw[watched] > -math.inf]
        roll = torch.rand(1, generator=self._generator, device=self.device)[0] if self._xtc else 0.0
        if banned:
            buffer, ids = scores.penalise_at(torch.tensor(list(banned), dtype=torch.long, device=self.device))
            buffer.index_fill_(0, ids, -math.inf)
            names.append("banned_phrases")
            alive.append(scores.alive(watched))
        is_breaker = self._breakers.test(decode) if self._breakers is not None else None
        state = {"is_breaker": is_breaker, "xtc_roll": roll, "mu": self.mu}
        for name in run(scores, input_ids, prompt_length, self.params, **state):  # type: ignore[arg-type]
            names.append(name)
            alive.append(scores.alive(watched))

        probs = scores.values.softmax(dim=0)
        position = self._draw(probs)
        token = position if scores.ids is None else scores.ids[position]
        chosen_and_watched = torch.cat([token, watched])
        raw_probs = raw.softmax(dim=0)[chosen_and_watched]
        final_probs = torch.cat([probs[position], scores.gather(watched, probs, 0.0)])
        flags = torch.stack(alive).flatten()
        # one transfer to Python; float32 holds every token id exactly (below 2 ** 24) and the probabilities as they are
        packed = torch.cat([chosen_and_watched.float(), raw_probs, final_probs, flags.float()])
        values = packed.tolist()

        count = 1 + watched.numel()
        ids = [int(i) for i in values[:count]]
        raw_p = values[count : 2 * count]
        final_p = values[2 * count : 3 * count]
        width = watched.numel()
        rows = [values[3 * count + r * width : 3 * count + (r + 1) * width] for r in range(len(names) + 1)]
        alternatives_out = tuple(
            Alternative(
                token_id=ids[j + 1],
                text=decode(ids[j + 1]),
                raw_prob=raw_p[j + 1],
                final_prob=final_p[j + 1],
                removed_by=_removed_by(names, [row[j] for row in rows]),
            )
            for j in range(width)
        )
        if self._mirostat:
            tau, eta = self.params.mirostat_tau, self.params.mirostat_eta
            self.mu -= eta * (-math.log2(final_p[0]) - tau)
        return SampleResult(token_id=ids[0], raw_prob=raw_p[0], final_prob=final_p[0], alternatives=alternatives_out)

    def _draw(self, probs: "torch.Tensor") -> "torch.Tensor":
        """Inverse-CDF draw of one position from `probs`; never returns a position of probability 0. A short list of
        candidates (after top_k, top_p, ...) is summed in Python, the same double-precision sums in the same order
        as the tensor path's, so both give the same position for the same draw."""
        import torch

        u = torch.rand(1, generator=self._generator, device=self.device, dtype=torch.float64)
        # (1 - u) lies in (0, 1], so the target is above 0 and at most the total: the first position whose cdf reaches
        # it has a positive probability.
        if probs.numel() <= _PYTHON_DRAW and probs.device.type == "cpu":
            cdf = list(itertools.accumulate(probs.tolist()))
            position = bisect.bisect_left(cdf, (1.0 - u.item()) * cdf[-1])
            return torch.tensor([min(position, len(cdf) - 1)])
        cdf = probs.double().cumsum(dim=0)
        return torch.searchsorted(cdf, (1.0 - u) * cdf[-1:]).clamp(max=probs.numel() - 1)


def _removed_by(names: list[str], alive: list[float]) -> str | None:
    """The first processor after which a token that was alive in the raw distribution is no longer alive."""
    if not alive[0]:
        return None
    for name, now in zip(names, alive[1:]):
        if not now:
            return name
    return None
