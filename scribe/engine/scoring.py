"""Per-token log-probabilities of a given text (the perplexity lens): how surprising the model finds each token.

`score_causal_lm` scores a text with any Hugging Face causal LM (the transformers backend's `score`): the first token
is scored after the start token (BOS, else EOS), and a text longer than the context is scored in windows that
overlap by half, so every token after the first window sees at least half a context. Importing this module imports
nothing heavy.
"""

from __future__ import annotations

from typing import Any

from scribe.engine.base import Backend, TokenScore


def score_text(backend: Backend, text: str) -> list[TokenScore]:
    """Each token of `text` with its log-probability under `backend` (NotImplementedError when it cannot score)."""
    return backend.score(text)


def token_pieces(tokenizer: Any, text: str) -> tuple[list[int], list[str]]:
    """The token ids of `text` and the characters each covers; the pieces add up to `text` exactly."""
    if not text:
        return [], []
    if getattr(tokenizer, "is_fast", False):
        encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        ids = list(encoded["input_ids"])
        starts = [start for start, _ in encoded["offset_mapping"]]
        bounds = [0]
        for start in starts[1:]:
            bounds.append(min(max(start, bounds[-1]), len(text)))
        bounds.append(len(text))
        return ids, [text[a:b] for a, b in zip(bounds, bounds[1:])]
    ids = list(tokenizer(text, add_special_tokens=False)["input_ids"])
    pieces, done = [], ""
    for end in range(1, len(ids) + 1):
        decoded = tokenizer.decode(ids[:end], skip_special_tokens=False, clean_up_tokenization_spaces=False)
        pieces.append(decoded[len(done) :])
        done = decoded
    if "".join(pieces) != text:  # a tokenizer that normalises text: give the rest to the last token
        pieces[-1] += text[len("".join(pieces)) :] if text.startswith("".join(pieces)) else ""
    return ids, pieces


def score_causal_lm(model: Any, tokenizer: Any, text: str, *, context_length: int) -> list[TokenScore]:
    """Score `text` with a Hugging Face causal LM (see the module docstring)."""
    import torch

    ids, pieces = token_pieces(tokenizer, text)
    if not ids:
        return []
    start = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    sequence = ([start] if start is not None else []) + ids
    offset = len(sequence) - len(ids)
    device = next(model.parameters()).device
    window = max(min(context_length, len(sequence)), 2)
    stride = max(window // 2, 1)
    logprobs: list[float] = []  # for positions 1.. of `sequence`
    scored_to = 0  # positions 1..scored_to of `sequence` have a log-probability
    begin = 0
    with torch.inference_mode():
        while scored_to < len(sequence) - 1:
            end = min(begin + window, len(sequence))
            chunk = torch.tensor(sequence[begin:end], dtype=torch.long, device=device)
            logits = model(input_ids=chunk[None]).logits[0].float()
            log_softmax = logits[:-1].log_softmax(dim=-1)
            targets = chunk[1:]
            values = log_softmax.gather(1, targets[:, None])[:, 0].tolist()
            first_new = scored_to + 1 - begin  # index into `chunk` of the first position not scored yet
            logprobs.extend(values[first_new - 1 :])
            scored_to = end - 1
            begin = max(end - window + stride, begin + 1) if end < len(sequence) else end
    if offset == 0:  # no start token: the first token has no context and counts as certain
        logprobs.insert(0, 0.0)
    return [TokenScore(token_id=i, text=piece, logprob=lp) for i, piece, lp in zip(ids, pieces, logprobs)]
