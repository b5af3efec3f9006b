"""Loading a base model for fine-tuning, after checking that training it fits in memory.

The check happens before any weight is read: the parameter count comes from building the model's architecture on
PyTorch's `meta` device from its config.json alone, and the need is estimated per mode:

- full fine-tuning keeps float32 weights, gradients and AdamW's two moments: 16 bytes per parameter;
- LoRA keeps the frozen base in its load precision (2 bytes in bfloat16, `scribe.training.precision`, else 4) plus
  the adapters;

plus a quarter for activations and the framework. Available memory is the GPU's free memory, or MemAvailable from
/proc/meminfo on a CPU.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

FULL_BYTES_PER_PARAMETER = 16
HEADROOM = 1.25


class TooBigForMemory(ValueError):
    """Training the base model would need more memory than is available."""


def count_parameters(folder: Path) -> int:
    """Parameters of the model in `folder`, from its config alone (no weights are read)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(folder)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    return sum(p.numel() for p in model.parameters())


def training_bytes(parameters: int, mode: str, weight_bytes: int) -> int:
    """Estimated memory to train a model of `parameters` in `mode` (finetune or lora)."""
    per = FULL_BYTES_PER_PARAMETER if mode == "finetune" else weight_bytes + 0.02 * FULL_BYTES_PER_PARAMETER
    return int(parameters * per * HEADROOM)


def available_bytes(device: "torch.device") -> int:
    """Free memory on `device`: the GPU's free memory, else MemAvailable (or free pages where there is no /proc)."""
    import torch

    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def memory_size(n: float) -> str:
    """A byte count as a writer reads it: "1.2 GB", "350 MB"."""
    return f"{n / 1e9:.1f} GB" if n >= 1e8 else f"{n / 1e6:.0f} MB"


def check_memory(folder: Path, name: str, mode: str, device: "torch.device", weight_bytes: int,
                 limit: int | None = None) -> int:
    """The estimated need in bytes; raises TooBigForMemory (with the estimate) when it exceeds `limit` or, without
    one, the memory available on `device`."""
    parameters = count_parameters(folder)
    need = training_bytes(parameters, mode, weight_bytes)
    have = limit if limit is not None else available_bytes(device)
    if need > have:
        hint = " LoRA (--lora) needs far less." if mode == "finetune" else ""
        raise TooBigForMemory(
            f"{name} has {parameters / 1e6:,.1f}M parameters: {'full fine-tuning' if mode == 'finetune' else 'LoRA'} "
            f"needs about {memory_size(need)} of memory, but {memory_size(have)} is available on {device.type}.{hint}"
        )
    return need


def load_base(folder: Path, device: "torch.device", dtype: "torch.dtype | str") -> "torch.nn.Module":
    """The causal LM in `folder` on `device` in `dtype` ("auto": the one its files hold), with PyTorch's SDPA attention
    where the architecture has it."""
    from transformers import AutoModelForCausalLM

    try:
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype, attn_implementation="sdpa")
    except (ValueError, ImportError):
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype)
    return model.to(device)
