"""Attention for training with attention dropout, its masks drawn as `scribe.training.dropout` draws them.

With attention dropout on, PyTorch's fused attention cannot run on a CPU, and its plain path draws one Bernoulli
sample per attention weight: in a training step of the bundled model's shape (4 layers, 4 heads, 8 x 256 tokens,
dropout 0.1) those draws took ~10 % of the step. `attention_with_fast_dropout(model)` registers an attention function
with transformers' `AttentionInterface` (and the sdpa mask builder for it) and switches the model to it: without
dropout (evaluation, or a rate of 0) it is transformers' own sdpa attention; with dropout it is the same attention
written out (scores, mask, softmax, dropout with `keep_mask`, weighted values). The saved config is unchanged.
"""

from __future__ import annotations

import torch

from scribe.training.dropout import FastDropout

NAME = "scribe_sdpa"
"""The name the attention function is registered under."""


def _attention(module: torch.nn.Module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
               attention_mask: torch.Tensor | None, dropout: float = 0.0, scaling: float | None = None,
               is_causal: bool | None = None, **kwargs: object) -> tuple[torch.Tensor, None]:
    """transformers' attention-function signature: queries [batch, heads, length, dim], keys and values [batch,
    key/value heads, length, dim]; the output [batch, length, heads, dim]."""
    from transformers.integrations.sdpa_attention import repeat_kv, sdpa_attention_forward

    if dropout == 0.0 or not module.training:
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=0.0, scaling=scaling,
                                      is_causal=is_causal, **kwargs)
    groups = getattr(module, "num_key_value_groups", 1)
    key, value = repeat_kv(key, groups), repeat_kv(value, groups)
    scores = torch.matmul(query, key.transpose(2, 3)).mul_(query.shape[-1] ** -0.5 if scaling is None else scaling)
    masked_rows = attention_mask is not None  # padding can leave a query nothing to attend to: weights 0, as sdpa
    if attention_mask is not None:
        mask = attention_mask[:, :, :, : key.shape[-2]]
        scores = scores.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool else scores + mask
    elif (getattr(module, "is_causal", True) if is_causal is None else is_causal) and query.shape[2] > 1:
        length, keys = query.shape[2], key.shape[2]
        future = torch.ones(length, keys, dtype=torch.bool, device=query.device).triu(keys - length + 1)
        scores.masked_fill_(future, float("-inf"))
    weights = scores.softmax(dim=-1, dtype=torch.float32).to(query.dtype)
    if masked_rows:
        weights = weights.nan_to_num(0.0)
    weights = FastDropout(dropout)(weights)
    return torch.matmul(weights, value).transpose(1, 2).contiguous(), None


def attention_with_fast_dropout(model: torch.nn.Module) -> bool:
    """Switch a model that uses transformers' sdpa attention to the function of this module; False (nothing
    changed) for any other attention."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    inner = model.get_base_model() if hasattr(model, "get_base_model") else model  # a peft (LoRA) wrapper
    if getattr(inner.config, "_attn_implementation", None) != "sdpa" or not hasattr(inner, "set_attn_implementation"):
        return False
    AttentionInterface.register(NAME, _attention)
    AttentionMaskInterface.register(NAME, sdpa_mask)
    inner.set_attn_implementation(NAME)
    return inner.config._attn_implementation == NAME
