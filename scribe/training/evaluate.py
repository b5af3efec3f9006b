"""Measuring a causal language model on text: perplexity and bits per character.

`sliding_window_nll` follows the protocol of the transformers perplexity guide: windows of `max_length` tokens advance
by `stride`, and each window scores only the tokens no earlier window scored, so every token is predicted once with at
least `max_length - stride` tokens of context (when there are that many). Each text is scored from its start: the
tokenizer's start token (`start_token_id`: BOS, else end-of-text, the rule of the perplexity lens in
`scribe.engine.scoring`) is put in front, so the first token is predicted too. Bits per character
divide the total loss by the characters of the text, which makes models with different tokenizers comparable.

Long scoring can report progress (`Progress`: tokens scored so far and the fraction done, after each window) and be
stopped between windows by a `threading.Event` (`cancel`), which raises `ScoringCancelled`.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from scribe.context_length import hf_context_length

if TYPE_CHECKING:
    import torch

Progress = Callable[[int, float], None]
"""Called as scoring goes: (tokens scored so far, fraction of the work done from 0 to 1)."""


class ScoringCancelled(Exception):
    """Scoring stopped because its cancel event was set."""


@dataclass(frozen=True)
class Score:
    """Total loss over a text and what it was measured on."""

    model: str
    nats: float
    tokens: int
    characters: int
    unknown_chars: int = 0
    """Characters no token stood for (unknown words), charged by a spelling model and included in `nats`."""

    @property
    def loss(self) -> float:
        """Mean nats per predicted token."""
        return self.nats / max(self.tokens, 1)

    @property
    def perplexity(self) -> float:
        return perplexity(self.loss)

    @property
    def bits_per_char(self) -> float:
        return self.nats / max(self.characters, 1) / math.log(2)


def perplexity(loss: float) -> float:
    """exp(loss), infinite for a loss too large to exponentiate (a diverged model)."""
    return math.exp(loss) if loss < 700 else math.inf


def block_nll(model: "torch.nn.Module", ids: "torch.Tensor", context: int, batch_size: int, *,
              autocast: bool = False) -> tuple[float, int]:
    """(total nats, tokens predicted) over `ids` cut into consecutive blocks of `context` predictions (the training
    loop's validation measure: no window overlap, so early tokens of each block see little context)."""
    import torch

    from scribe.training.loss import token_loss

    full = (len(ids) - 1) // context
    rows = [ids[i * context : (i + 1) * context + 1] for i in range(full)]
    batches = [torch.stack(rows[b : b + batch_size]) for b in range(0, full, batch_size)]
    if len(ids) - 1 > full * context:
        batches.append(ids[full * context :][None])
    nats, count = 0.0, 0
    with torch.no_grad():
        for batch in batches:
            nats += token_loss(model, batch.long(), autocast=autocast, reduction="sum").item()
            count += batch[:, 1:].numel()
    return nats, count


def sliding_window_nll(model: "torch.nn.Module", ids: "torch.Tensor", max_length: int, stride: int, *,
                       cancel: threading.Event | None = None,
                       on_window: Callable[[int], None] | None = None) -> tuple[float, int]:
    """(total nats, tokens predicted) of the 1-D token stream `ids` by the sliding-window protocol (module docstring);
    every token after the first is predicted exactly once. `on_window` gets the tokens predicted so far after each
    window; a set `cancel` raises ScoringCancelled before the next window."""
    import torch
    import torch.nn.functional as F

    if not 0 < stride <= max_length:
        raise ValueError(f"stride must be between 1 and max-length ({max_length}), got {stride}")
    nats, count, scored_to = 0.0, 0, 1
    with torch.no_grad():
        for begin in range(0, len(ids) - 1, stride):
            if cancel is not None and cancel.is_set():
                raise ScoringCancelled("scoring stopped")
            end = min(begin + max_length, len(ids))
            window = ids[begin:end].long()[None]
            # tokens [scored_to, end) are predicted for the first time (the window's first token cannot be: with
            # stride == max_length that one token per window goes unscored, as in the guide)
            new = min(end - scored_to, end - begin - 1)
            if new > 0:
                logits = model(input_ids=window[:, :-1], use_cache=False).logits[0, -new:].float()
                nats += F.cross_entropy(logits, window[0, -new:], reduction="sum").item()
                count += new
                if on_window is not None:
                    on_window(count)
            scored_to = end
            if end == len(ids):
                break
    return nats, count


def start_token_id(tokenizer) -> int | None:  # noqa: ANN001
    """The token a text is scored after: BOS when the tokenizer has one, else its end-of-text token (what separates
    documents in training), else None (the first token is then not predicted)."""
    return tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id


def score_texts(model: "torch.nn.Module", tokenizer, texts: Sequence[str], *, name: str, max_length: int,  # noqa: ANN001
                stride: int, cancel: threading.Event | None = None, progress: Progress | None = None) -> Score:
    """Sliding-window score of each text (scored from its start), summed; `progress` and `cancel` as in the module
    docstring."""
    texts_ids = [(tokenizer(text, add_special_tokens=False)["input_ids"], len(text)) for text in texts]
    return score_ids(model, tokenizer, texts_ids, name=name, max_length=max_length, stride=stride, cancel=cancel,
                     progress=progress)


def score_ids(model: "torch.nn.Module", tokenizer, texts: Sequence[tuple[Any, int]], *,  # noqa: ANN001
              name: str, max_length: int, stride: int, cancel: threading.Event | None = None,
              progress: Progress | None = None) -> Score:
    """`score_texts` of texts given as (their token ids: a list or an int32 array, their length in characters)."""
    import torch

    device = next(model.parameters()).device
    start = start_token_id(tokenizer)
    prefix = torch.tensor([start] if start is not None else [], dtype=torch.int32)
    streams = [(torch.cat([prefix, torch.as_tensor(ids, dtype=torch.int32)]).to(device), characters)
               for ids, characters in texts]
    total = max(sum(len(ids) - 1 for ids, _ in streams), 1)
    nats, tokens, chars = 0.0, 0, 0
    for ids, characters in streams:
        def on_window(count: int, before: int = tokens) -> None:
            if progress is not None:
                progress(before + count, min((before + count) / total, 1.0))

        n, c = sliding_window_nll(model, ids, max_length, stride, cancel=cancel, on_window=on_window)
        nats, tokens = nats + n, tokens + c
        chars += characters if start is not None else len(tokenizer.decode(ids[1:].tolist()))
    return Score(name, nats, tokens, chars)


def load_for_eval(name_or_path: str, device: str = "auto"):  # noqa: ANN201 - (model, tokenizer, ref)
    """Resolve a model name (scribe.engine.registry) and load it with plain transformers for scoring."""
    from transformers import AutoTokenizer

    ref = _transformers_model(name_or_path)
    return _load_weights(ref, device), AutoTokenizer.from_pretrained(ref.path), ref


def _transformers_model(name_or_path: str):  # noqa: ANN202 - a ModelRef
    from scribe.engine.registry import resolve_model

    ref = resolve_model(name_or_path)
    if ref.kind != "transformers":
        raise ValueError(f"{name_or_path}: scoring supports transformers models only, not {ref.kind}")
    return ref


def _load_weights(ref, device: str) -> "torch.nn.Module":  # noqa: ANN001 - a ModelRef
    from transformers import AutoModelForCausalLM

    from scribe.engine.transformers_backend import pick_device

    chosen = pick_device(device)
    model = AutoModelForCausalLM.from_pretrained(ref.path, dtype="auto" if chosen.type == "cuda" else "float32")
    model.to(chosen).eval()
    return model


def evaluate_model(name_or_path: str, paths: Sequence[str | Path], *, max_length: int | None = None,
                   stride: int | None = None, device: str = "auto", strip_gutenberg: bool = False,
                   join_lines: bool = False, cancel: threading.Event | None = None,
                   progress: Progress | None = None) -> Score:
    """Load a model and score the corpus files (read like training data) with the sliding-window protocol.
    `max_length` defaults to the model's context (at most 1024), `stride` to half of it; `progress` and `cancel` as
    in the module docstring. The files are read and tokenised a piece at a time (`read_each`, `text_ids`): what is
    held is their token ids, never their text (with a tokenizer whose pieces would tokenise differently, one file's
    text at a time), and `cancel` is honoured between pieces."""
    from transformers import AutoTokenizer

    from scribe.training.corpus import read_each
    from scribe.training.dataset import hf_encode, text_ids

    ref = _transformers_model(name_or_path)
    tokenizer = AutoTokenizer.from_pretrained(ref.path)

    def watched(pieces: Iterator[str]) -> Iterator[str]:
        for piece in pieces:
            if cancel is not None and cancel.is_set():
                raise ScoringCancelled("scoring stopped")
            yield piece

    encode = hf_encode(tokenizer)
    reads, _ = read_each(paths, lambda pieces: text_ids(watched(pieces), encode),
                         strip_gutenberg=strip_gutenberg, join_lines=join_lines)
    model = _load_weights(ref, device)
    length = max_length or min(hf_context_length(model.config) or 1024, 1024)
    if (context := hf_context_length(model.config)) is not None and length > context:
        raise ValueError(f"max-length {length} is longer than {ref.name}'s context of {context} tokens")
    return score_ids(model, tokenizer, [(r.value, r.characters) for r in reads], name=ref.name, max_length=length,
                     stride=stride or max(1, length // 2), cancel=cancel, progress=progress)
