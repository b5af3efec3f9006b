"""Which arithmetic a training run's matrix products use: bfloat16 under autocast, or float32.

Under bfloat16 the products (and the activations kept for the backward pass) are bfloat16 while the weights that train
stay float32, and a LoRA run loads its frozen base in bfloat16: half the base's memory. `auto` picks bfloat16 where
the hardware does it natively: a CUDA GPU that supports it, and, for LoRA, a CPU with bfloat16 instructions (AVX512-BF16
or AMX). There a LoRA step of GPT-2-124M ran ~1.6x faster and peaked ~170 MB lower than in float32 (2-core AMD EPYC
Zen 4, 8 micro-batches of 128 tokens: 340 against 215 tokens/s). A CPU without them would emulate bfloat16, slower
than float32, so `auto` keeps float32 there, and for full fine-tuning and from-scratch training on a CPU, whose
weights all train.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

PRECISIONS = ("auto", "float32", "bfloat16")
"""The choices of `--precision`."""


def uses_bfloat16(precision: str, device: "torch.device", mode: str) -> bool:
    """Whether a run in `mode` on `device` computes in bfloat16 for the writer's `precision` (one of PRECISIONS)."""
    import torch

    if precision not in PRECISIONS:
        raise ValueError(f"--precision {precision}: choose one of {', '.join(PRECISIONS)}")
    if precision != "auto":
        return precision == "bfloat16"
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return device.type == "cpu" and mode == "lora" and cpu_has_native_bfloat16()


def cpu_has_native_bfloat16() -> bool:
    """Whether this CPU has bfloat16 arithmetic instructions (x86 AVX512-BF16 or AMX; False where torch cannot tell)."""
    import torch

    checks = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    return any(check is not None and check() for check in checks)
