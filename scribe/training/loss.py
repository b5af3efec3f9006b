"""The next-token loss that training and validation compute, with the same arithmetic done in fewer memory passes.

For the architectures in `_FUSED_HEAD` (plain `lm_head(hidden)` logits, no bias, no soft-capping) the output head
and the cross-entropy run together, a chunk of positions at a time (`LinearCrossEntropy`): the [positions, vocab]
logits are never stored, and their gradient is formed while they are at hand, so the backward pass has no softmax
left to redo. `fuse_activations` swaps transformers' Python-level tanh-GELU (five element-wise passes in each
direction) for PyTorch's fused kernel of the same formula. Together they make a training step on a CPU ~1.3-1.6x
faster than the same model through transformers' own loss (bench/train_speed.py); other architectures take the
ordinary path. Results match the ordinary path to float rounding (tests/training/test_loss.py).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from transformers.activations import NewGELUActivation

_FUSED_HEAD = {"GPT2LMHeadModel", "LlamaForCausalLM"}
CHUNK_ROWS = 1024
"""Positions per chunk of the fused head: chunk x vocab floats (32 MB for GPT-2's vocabulary) live at once."""


def fuse_activations(model: torch.nn.Module) -> int:
    """Replace transformers' `NewGELUActivation` modules with `torch.nn.GELU(approximate="tanh")` (the same function,
    one kernel); returns how many were replaced. Only modules change: the config and weights saved are the same."""
    swaps = [(parent, name) for parent in model.modules() for name, child in parent.named_children()
             if isinstance(child, NewGELUActivation)]
    for parent, name in swaps:
        setattr(parent, name, torch.nn.GELU(approximate="tanh"))
    return len(swaps)


def _body_and_head(model: torch.nn.Module) -> tuple[torch.nn.Module, torch.nn.Parameter] | None:
    """The model's body (ids -> final hidden states) and output-head weight when logits are exactly hidden @ W.T."""
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model  # a peft (LoRA) wrapper
    head = inner.get_output_embeddings() if type(inner).__name__ in _FUSED_HEAD else None
    if not isinstance(head, torch.nn.Linear) or head.bias is not None:
        return None
    return inner.base_model, head.weight


def token_loss(model: torch.nn.Module, block: torch.Tensor, *, autocast: bool = False,
               reduction: str = "mean") -> torch.Tensor:
    """Next-token cross-entropy (nats) of a [batch, length + 1] block of token ids (logits in float32)."""
    inputs, targets = block[:, :-1], block[:, 1:].flatten()
    split = _body_and_head(model)
    with torch.autocast(block.device.type, dtype=torch.bfloat16, enabled=autocast):
        if split is not None:
            body, weight = split
            hidden = body(input_ids=inputs, use_cache=False).last_hidden_state
            return linear_cross_entropy(hidden.flatten(0, 1), weight, targets, reduction=reduction)
        logits = model(input_ids=inputs, use_cache=False).logits
    return F.cross_entropy(logits.flatten(0, 1).float(), targets, reduction=reduction)


def linear_cross_entropy(hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor, *,
                         reduction: str = "mean", chunk_rows: int = CHUNK_ROWS) -> torch.Tensor:
    """cross_entropy(hidden @ weight.T, targets) without storing the logits; `reduction` is "mean" or "sum"."""
    if reduction not in ("mean", "sum"):
        raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
    mean = reduction == "mean"
    if torch.is_grad_enabled() and (hidden.requires_grad or weight.requires_grad):
        return _LinearCrossEntropy.apply(hidden, weight, targets, mean, chunk_rows)
    total = sum(_chunk_loss_and_gradient(hidden[start : start + chunk_rows], weight,
                                         targets[start : start + chunk_rows], 1.0, False)[0]
                for start in range(0, len(targets), chunk_rows))
    return total / len(targets) if mean else total


class NextTokenLoss(torch.nn.Module):
    """`token_loss` of the model it holds as a module's forward pass, so DistributedDataParallel can wrap it."""

    def __init__(self, model: torch.nn.Module, *, autocast: bool = False) -> None:
        super().__init__()
        self.model = model
        self.autocast = autocast

    def forward(self, block: torch.Tensor) -> torch.Tensor:
        return token_loss(self.model, block, autocast=self.autocast)


def _chunk_loss_and_gradient(hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor,
                             scale: float, gradient: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Summed loss of one chunk and, when asked, d(scale * loss)/d(logits) (softmax minus one-hot, scaled). The
    softmax is formed in the logits' own memory (log-sum-exp as `torch.logsumexp` computes it: the largest logit
    taken out before the exponentials), so a chunk holds one [rows, vocab] matrix, not two."""
    logits = F.linear(hidden, weight)
    logits = logits.to(torch.promote_types(logits.dtype, torch.float32))  # bf16 under autocast: softmax in float32
    target_logits = logits.gather(1, targets[:, None])[:, 0]
    largest = logits.amax(dim=1, keepdim=True)
    exponentials = logits.sub_(largest).exp_()
    sums = exponentials.sum(dim=1)
    loss = (sums.log() + largest[:, 0] - target_logits).sum()
    if not gradient:
        return loss, None
    probs = exponentials.mul_((scale / sums)[:, None])
    probs[torch.arange(len(targets), device=targets.device), targets] -= scale
    return loss, probs


class _LinearCrossEntropy(torch.autograd.Function):
    """Forward computes the loss and, chunk by chunk, the gradients for hidden and weight; backward scales them."""

    @staticmethod
    def forward(ctx, hidden, weight, targets, mean, chunk_rows):  # noqa: ANN001, ANN205
        rows = hidden.shape[0]
        scale = 1.0 / rows if mean else 1.0
        want_hidden, want_weight = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        grad_hidden = torch.empty_like(hidden) if want_hidden else None
        grad_weight = torch.zeros_like(weight, dtype=torch.float32) if want_weight else None
        total = torch.zeros((), dtype=torch.promote_types(hidden.dtype, torch.float32), device=hidden.device)
        for start in range(0, rows, chunk_rows):
            part = hidden[start : start + chunk_rows]
            loss, grad_logits = _chunk_loss_and_gradient(part, weight, targets[start : start + chunk_rows], scale,
                                                         want_hidden or want_weight)
            total += loss
            if grad_hidden is not None:
                grad_hidden[start : start + chunk_rows] = F.linear(grad_logits, weight.t())
            if grad_weight is not None:
                grad_weight += grad_logits.t() @ part
        ctx.save_for_backward(grad_hidden, grad_weight)
        ctx.weight_dtype = weight.dtype
        return total * scale

    @staticmethod
    def backward(ctx, grad_output):  # noqa: ANN001, ANN205
        grad_hidden, grad_weight = ctx.saved_tensors
        return (None if grad_hidden is None else grad_hidden * grad_output,
                None if grad_weight is None else (grad_weight * grad_output).to(ctx.weight_dtype),
                None, None, None)
