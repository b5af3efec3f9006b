"""What scribe's decoders share: the key/value cache bookkeeping (one preallocated tensor
[layers, 2 (keys, values), heads, capacity, head_dim] in the model's dtype or float16, and how many of its positions
are filled), int8 weights and one-row products through OpenBLAS or scribe's native kernels."""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from typing import Any

import torch

from scribe.engine.native import FLOAT_ROWS, MAX_HEAD_DIM, LayerArguments, NativeKernels
from scribe.engine.one_row import Projection, attend_one, attend_one_openblas


def cached(keys_or_values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Cached keys or values in the dtype of `like` (the step's activations): a float16 cache's come out widened."""
    return keys_or_values.to(like.dtype)


class KVCacheSlots:
    """A decoder's cache and its filled length; the decoder sets `dtype` and `device` and runs the layers."""

    cache: torch.Tensor | None
    length: int
    dtype: torch.dtype
    device: torch.device
    head_dim: int
    layers: list[Any]
    """Each layer has `projections()`: its weight matrices."""
    lm_head: Any
    quantized: bool
    attend: Callable[..., torch.Tensor] = staticmethod(attend_one)
    """One position's attention (`one_row.attend_one`); through OpenBLAS after `multiply_rows_with_openblas`."""
    kernels: NativeKernels | None = None
    """The native kernels each one-token step runs on as one call, after `use_native_kernels`."""
    layer_arguments: ctypes.Array[LayerArguments] | None = None
    """The layers as those kernels take them."""
    half_cache: bool = False
    """Whether the cache holds float16 keys and values (`use_half_cache`)."""

    def projections(self) -> list[Projection]:
        """Every weight matrix's projection, the output head's last."""
        return [projection for layer in self.layers for projection in layer.projections()] + [self.lm_head]

    def quantize_int8(self, kernels: NativeKernels | None = None) -> None:
        """Switch every projection and the output head to int8 (CPU only), multiplied by the native `kernels` where
        given and built with the int8 product, else by fbgemm."""
        if self.device.type != "cpu":
            raise ValueError(f"int8 weights are a CPU mode; on {self.device.type} use bfloat16 or float16")
        for projection in self.projections():
            projection.quantize_int8(kernels)
        self.quantized = True

    def use_native_kernels(self, kernels: NativeKernels) -> None:
        """Multiply on the native `kernels` (CPU, float32 activations): int8 weights on their int8 product already,
        float32 ones through a copy of each weight in their layout (`native.FloatRows`, products of a few rows); and
        run each one-token step as one call where the decoder describes its layers (`native_layers`) and its heads
        are at most `native.MAX_HEAD_DIM` wide."""
        if self.device.type != "cpu" or self.dtype != torch.float32:
            raise ValueError(f"native kernels run float32 on the CPU, not {self.dtype} on {self.device.type}")
        if not self.quantized:
            for projection in self.projections():
                projection.multiply_rows_natively(kernels)
        self.layer_arguments = self.native_layers() if self.head_dim <= MAX_HEAD_DIM else None
        self.kernels = kernels if self.layer_arguments is not None else None
        self.use_half_cache(self.kernels is not None)

    def use_half_cache(self, half: bool = True) -> None:
        """Keep the cached keys and values in float16 (`half`), as llama.cpp keeps them, or in the model's dtype: a
        long context's step reads half the bytes. The native step's cache is always half (`use_native_kernels`);
        PyTorch's paths widen what they read (`cached`). The cache starts again, empty."""
        if half and (self.device.type != "cpu" or self.dtype != torch.float32):
            raise ValueError(f"a float16 cache is for float32 models on the CPU, "
                             f"not {self.dtype} on {self.device.type}")
        self.half_cache = half
        self.cache, self.length = None, 0

    def steps_rows_natively(self, rows: int) -> bool:
        """Whether a step of `rows` rows (drafts) runs on the native kernels: int8 products take any number of rows,
        the float32 copies a few (`native.FLOAT_ROWS`; PyTorch's products are faster for more)."""
        return self.kernels is not None and (self.quantized or rows <= FLOAT_ROWS)

    def native_layers(self) -> ctypes.Array[LayerArguments] | None:
        """The layers as `NativeKernels.step` takes them (`native.layer_arguments`), None where this decoder's steps
        cannot run there."""
        return None

    def weight_bytes(self) -> int:
        """Bytes of the weight matrices one step reads (the output head's included)."""
        return sum(projection.weight.numel() * projection.weight.element_size() for projection in self.projections())

    def multiply_rows_with_openblas(self) -> None:
        """Send the one-row products of every projection and the output head, and a one-token step's attention, to
        numpy's OpenBLAS (CPU, float32; `scribe.engine.blas`); steps then run in `threads.openblas_step_threads`."""
        for projection in self.projections():
            projection.multiply_rows_with_openblas()
        self.attend = attend_one_openblas

    def _allocate(self, shape: tuple[int, ...], *, keep: bool) -> None:
        """A new, larger cache of `shape`; with `keep` the filled positions are copied over."""
        old, self.cache = self.cache, torch.zeros(shape, dtype=self.cache_dtype, device=self.device)
        if keep and old is not None and self.length:
            self.cache[:, :, :, : self.length] = old[:, :, :, : self.length]

    @property
    def cache_dtype(self) -> torch.dtype:
        """The cache's element type: float16 after `use_half_cache`, else the model's."""
        return torch.float16 if self.half_cache else self.dtype

    def rewind(self, length: int) -> None:
        """Forget every cached position from `length` on (the next step runs at position `length`)."""
        self.length = min(length, self.length)

    @property
    def capacity(self) -> int:
        """Positions the cache can hold."""
        return 0 if self.cache is None else self.cache.shape[3]
