"""LoRA with peft: adapters on a frozen base, merged into plain weights for the saved model."""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    import torch

_CONV1D_TARGETS = ("c_attn", "c_proj", "c_fc")
"""GPT-2-style models use transformers' Conv1D layers, which peft does not find by default."""


def target_modules(model: "torch.nn.Module") -> list[str] | None:
    """Module names to adapt: GPT-2-style attention and MLP layers when the model has them; otherwise None, which lets
    peft pick its default for the architecture."""
    names = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    found = [t for t in _CONV1D_TARGETS if t in names]
    return found or None


def add_adapters(model: "torch.nn.Module", *, r: int, alpha: int, dropout: float,
                 targets: Sequence[str] | None = None) -> "torch.nn.Module":
    """`model` wrapped by peft with LoRA adapters (only the adapters train)."""
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(
        r=r,
        lora_alpha=alpha,
        lora_dropout=dropout,
        target_modules=list(targets) if targets else target_modules(model),
        fan_in_fan_out=any(t in _CONV1D_TARGETS for t in (targets or target_modules(model) or [])),
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, config)


def set_base_dropout(model: "torch.nn.Module", p: float) -> int:
    """Set every dropout of `model` (its `Dropout` modules and the attention dropout rate Llama-style attention keeps
    as a number) to `p`, before adapters are added; returns how many were set. The saved config keeps the model's own
    rates. With attention dropout 0 PyTorch's fused attention runs in training too: on a CPU, attention dropout sends
    it to the plain path, which keeps four [heads, length, length] matrices per layer for the backward pass."""
    import torch

    count = 0
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = p
            count += 1
        elif isinstance(getattr(module, "attention_dropout", None), float):
            module.attention_dropout = p
            count += 1
    return count


def merged(model: "torch.nn.Module") -> "torch.nn.Module":
    """The base model with the adapters folded into its weights (a plain transformers model; `model` is consumed)."""
    return model.merge_and_unload()
