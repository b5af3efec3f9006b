"""What scribe's decoders share for one position at a time: projections, the weight layout that suits a one-row
product on the CPU, and one token's attention.

A decode step multiplies one row by every weight matrix of the model, so on a CPU its speed is how fast the matrices
stream from memory. Measured cold (a ring of copies larger than the caches) on a 2-core Intel Xeon, 2 threads,
float32: a product whose input is at least as wide as its output streams faster from an [out, in] matrix (3,072 → 768:
29.5 against 27.1 GB/s; 1,536 → 576: 28.8 against 26.2), one whose output is wider from an [in, out] matrix (768 →
50,257, GPT-2's output head: 32.4 against 27.8 GB/s; 576 → 960, a fused query/key/value: 26.4 against 21.9).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING

import torch

from scribe.engine.native import FloatRows, Int8Rows, NativeKernels, int8_channel_scales

if TYPE_CHECKING:
    import numpy


class Projection:
    """x @ W + b for a weight W given as an [in, out] view (transformers' Conv1D layout, or the transpose of a
    Linear's [out, in] weight). `quantize_int8` switches to int8 weights; `multiply_rows_with_openblas` sends one-row
    float32 products to numpy's OpenBLAS (`scribe.engine.blas`), `multiply_rows_natively` to scribe's native kernels
    (`scribe.engine.native`)."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None) -> None:
        self.weight = weight
        self.bias = bias
        self.packed: object | None = None
        self.array: "numpy.ndarray | None" = None
        """The weight as a numpy array over the same memory, when one-row products go through OpenBLAS."""
        self.native: FloatRows | Int8Rows | None = None
        """The weight in the native kernels' blocks, for products of up to its `max_rows` rows."""

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.native is not None and x.shape[0] <= self.native.max_rows:
            return self.native(x)
        if self.packed is not None:
            return _int8_linear()(x, self.packed, True)
        if self.array is not None and x.shape[0] == 1:
            out = torch.from_numpy(x.numpy() @ self.array)
            return out if self.bias is None else out.add_(self.bias)
        if self.bias is None:
            return torch.mm(x, self.weight)
        return torch.addmm(self.bias, x, self.weight)

    def multiply_rows_with_openblas(self) -> None:
        """Multiply one row at a time through numpy (OpenBLAS) on the weight's own memory (CPU, float32 only)."""
        if self.weight.device.type != "cpu" or self.weight.dtype != torch.float32:
            raise ValueError(f"OpenBLAS products need float32 weights on the CPU, not {self.weight.dtype} on "
                             f"{self.weight.device.type}")
        self.array = self.weight.detach().numpy()

    def multiply_rows_natively(self, kernels: NativeKernels) -> None:
        """Multiply a few rows at a time (steps, drafts) through the native kernels, on a copy of the weight in their
        blocks (CPU, float32); longer prompts keep PyTorch's products."""
        if self.weight.device.type != "cpu" or self.weight.dtype != torch.float32:
            raise ValueError(f"native products need float32 weights on the CPU, not {self.weight.dtype} on "
                             f"{self.weight.device.type}")
        self.native = FloatRows(kernels, self.weight, self.bias)

    def quantize_int8(self, kernels: NativeKernels | None = None) -> None:
        """Keep an int8 copy of the weight, one scale per output channel (symmetric); activations are quantised per
        call. With `kernels` that have the int8 product: scribe's native kernel (each row of activations on its own
        scale, products summed exactly); else fbgemm's dynamic linear (int8 products, int32 sums, float output)."""
        if kernels is not None and kernels.int8:
            self.native = Int8Rows(kernels, self.weight, self.bias)
            return
        rows = self.weight.detach().t().float()  # [out, in]
        scales = int8_channel_scales(rows)
        with warnings.catch_warnings():  # the quantized-tensor constructors warn that they are deprecated
            warnings.simplefilter("ignore")
            qweight = torch.quantize_per_channel(
                rows, scales.double(), torch.zeros_like(scales, dtype=torch.long), axis=0, dtype=torch.qint8
            )
            bias = None if self.bias is None else self.bias.detach().float()
            self.packed = torch.ops.quantized.linear_prepack(qweight, bias)


@cache
def _int8_linear() -> Callable[..., torch.Tensor]:
    """fbgemm's dynamic int8 linear itself, without the Python dispatch of `torch.ops.quantized.linear_dynamic(...)`:
    14 against 20 us a call at one row (2-core AMD EPYC), about 0.7 ms of a SmolLM2-135M-shaped int8 step's 121
    products."""
    return torch.ops.quantized.linear_dynamic.default._op


def one_row_layout(parameter: torch.Tensor, *, out_in: bool) -> torch.Tensor:
    """The [in, out] view of a weight `parameter` (stored [out, in] when `out_in`, as nn.Linear does; else [in, out],
    as Conv1D does), its values re-stored in place, on the CPU, in fresh memory (`in_fresh_memory`) and in the memory
    order a one-row product reads fastest: [out, in] rows when the input is at least as wide as the output, [in, out]
    rows otherwise. The same values and no added memory, so the model's own forward pass (and a tied embedding) work on
    it as before."""
    in_out = parameter.t() if out_in else parameter
    if parameter.device.type == "cpu":
        stored_in_out = in_out.stride(1) == 1
        with torch.no_grad():
            if stored_in_out != input_major(*in_out.shape):
                parameter.data = parameter.data.t().contiguous().t()
            else:
                parameter.data = parameter.data.clone()
    return parameter.t() if out_in else parameter


@contextmanager
def in_fresh_memory(model: torch.nn.Module) -> Iterator[None]:
    """Run the block, which re-stores the weight matrices of `model` (`one_row_layout`, fused matrices), then re-store
    every CPU parameter it left where it was in memory of its own (the same values), so each weight is copied once:
    weights loaded from a safetensors file are pages of the file's mapping, 4 KB each; fresh allocations of 2 MB or
    more are huge pages when PyTorch's huge-page switch is on (`threads.HUGE_PAGES_VARIABLE`, which scribe's commands
    set), and a one-row product streams them faster."""
    with torch.no_grad():
        before = {id(parameter): parameter.data_ptr() for parameter in model.parameters()}
        yield
        for parameter in model.parameters():
            if parameter.device.type == "cpu" and parameter.data_ptr() == before.get(id(parameter)):
                parameter.data = parameter.data.clone()


def input_major(inputs: int, outputs: int) -> bool:
    """Whether a one-row product with this many inputs and outputs reads its matrix fastest stored [in, out]."""
    return inputs < outputs


def attend_one(q: torch.Tensor, keys_t: torch.Tensor, values: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """One position's attention: queries [heads, 1, dim] over keys given transposed [kv heads, dim, length] and values
    [kv heads, length, dim] (query head i reads key/value head i // (heads / kv heads), as transformers' grouped
    attention does); [heads, 1, dim]. `scale` multiplies the scores (1 when the queries already carry it). Two
    batched products: at one query they cost less than the fused attention kernel (profiled, GPT-2-124M shape, 100
    positions: 2 x 16 against 107 us a layer; SmolLM2-135M shape, one thread, 4,096 positions: 471 against 609 us)."""
    heads, _, dim = q.shape
    kv_heads = keys_t.shape[0]
    scores = torch.bmm(q.reshape(kv_heads, heads // kv_heads, dim), keys_t)
    if scale != 1.0:
        scores.mul_(scale)
    return torch.bmm(scores.softmax(dim=-1), values).view(heads, 1, dim)


def attend_one_openblas(q: torch.Tensor, keys_t: torch.Tensor, values: torch.Tensor,
                        scale: float = 1.0) -> torch.Tensor:
    """`attend_one` with its two products through numpy's OpenBLAS, for the CPU steps that run their products there
    (`scribe.engine.blas`: PyTorch's own operations are on one thread then, OpenBLAS's on the step's count). The
    scores come from the keys as rows times the queries (a product that streams the keys once), not the queries times
    the keys transposed, which OpenBLAS runs 3.3 times slower. Measured on a 2-core AMD EPYC, float32, each set of
    steps interleaved with `attend_one`'s: a SmolLM2-135M-shaped step with 4,096 cached positions 35.1 against 42.4
    ms (PyTorch's batched products stream the cache at about 10 GB/s on one thread there); at 1,024 positions and
    below the two were within a few percent (26.0 against 27.8 ms; GPT-2-124M at 128 positions 21.5 against 22.1)."""
    import numpy

    heads, _, dim = q.shape
    kv_heads = keys_t.shape[0]
    queries_t = q.reshape(kv_heads, heads // kv_heads, dim).numpy().transpose(0, 2, 1)
    scores = torch.from_numpy(numpy.matmul(keys_t.numpy().transpose(0, 2, 1), queries_t)).transpose(1, 2)
    if scale != 1.0:
        scores.mul_(scale)
    weights = scores.softmax(dim=-1).numpy()
    return torch.from_numpy(numpy.matmul(weights, values.numpy())).view(heads, 1, dim)
