"""What scribe's decoders share: the key/value cache bookkeeping (one preallocated tensor
[layers, 2 (keys, values), heads, capacity, head_dim] and how many of its positions are filled), int8 weights and
one-row products through OpenBLAS."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from scribe.engine.one_row import attend_one, attend_one_openblas


class KVCacheSlots:
    """A decoder's cache and its filled length; the decoder sets `dtype` and `device` and runs the layers."""

    cache: torch.Tensor | None
    length: int
    dtype: torch.dtype
    device: torch.device
    layers: list[Any]
    """Each layer has `projections()`: its weight matrices."""
    lm_head: Any
    quantized: bool
    attend: Callable[..., torch.Tensor] = staticmethod(attend_one)
    """One position's attention (`one_row.attend_one`); through OpenBLAS after `multiply_rows_with_openblas`."""

    def quantize_int8(self) -> None:
        """Switch every projection and the output head to int8 (CPU only)."""
        if self.device.type != "cpu":
            raise ValueError(f"int8 weights are a CPU mode; on {self.device.type} use bfloat16 or float16")
        for layer in self.layers:
            for projection in layer.projections():
                projection.quantize_int8()
        self.lm_head.quantize_int8()
        self.quantized = True

    def multiply_rows_with_openblas(self) -> None:
        """Send the one-row products of every projection and the output head, and a one-token step's attention, to
        numpy's OpenBLAS (CPU, float32; `scribe.engine.blas`); steps then run in `blas.step_threads`."""
        for layer in self.layers:
            for projection in layer.projections():
                projection.multiply_rows_with_openblas()
        self.lm_head.multiply_rows_with_openblas()
        self.attend = attend_one_openblas

    def _allocate(self, shape: tuple[int, ...], *, keep: bool) -> None:
        """A new, larger cache of `shape`; with `keep` the filled positions are copied over."""
        old, self.cache = self.cache, torch.zeros(shape, dtype=self.dtype, device=self.device)
        if keep and old is not None and self.length:
            self.cache[:, :, :, : self.length] = old[:, :, :, : self.length]

    def rewind(self, length: int) -> None:
        """Forget every cached position from `length` on (the next step runs at position `length`)."""
        self.length = min(length, self.length)

    @property
    def capacity(self) -> int:
        """Positions the cache can hold."""
        return 0 if self.cache is None else self.cache.shape[3]
