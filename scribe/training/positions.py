"""Growing a GPT-2 model's learned position table, so fine-tuning can continue it at a longer context.

GPT-2 learns one embedding per absolute position (`transformer.wpe`). To continue training a model at a context
longer than its own, the table is grown by repeating the learned rows: position `p` starts as a copy of position
`p mod n` (the old length `n`). Longformer initialised its longer position table the same way (copying RoBERTa's 512
learned positions) and found it trains back quickly, far faster than random new rows; the old positions are kept
exactly, so the model scores a short text as before.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def extend_positions(model: "torch.nn.Module", context: int) -> int:
    """Grow `model`'s (a GPT-2 LM) position table to `context` rows by tiling its learned rows, update its config
    and return the old length. ValueError for a model without a GPT-2 position table; no change when it is already
    long enough."""
    import torch

    transformer = getattr(model, "transformer", None)
    wpe = getattr(transformer, "wpe", None)
    if transformer is None or not isinstance(wpe, torch.nn.Embedding):
        raise ValueError(f"{type(model).__name__} has no GPT-2 position table (transformer.wpe) to extend")
    old = wpe.num_embeddings
    if context <= old:
        return old
    rows = torch.arange(context, device=wpe.weight.device) % old
    grown = torch.nn.Embedding(context, wpe.embedding_dim, device=wpe.weight.device, dtype=wpe.weight.dtype)
    with torch.no_grad():
        grown.weight.copy_(wpe.weight[rows])
    transformer.wpe = grown
    model.config.n_positions = context
    if hasattr(model.config, "n_ctx"):
        model.config.n_ctx = context
    return old
