"""scribe's native kernels for one-token CPU decode steps: one-row products over weights re-stored in blocks that
read strictly in order, int8 products with AVX-512 VNNI, a whole step's layers (products, attention, norms,
activations) in one call, for one continuation or several drafts at once, and the sampler's partial sort.

The products PyTorch's CPU wheels bring stream a one-row product's weights from memory below the memory's speed on
AMD CPUs: MKL, OpenBLAS and fbgemm read a row-major (or their own packed) matrix as many short streams.
`native_kernels.c` reads weights re-stored in blocks of 16 output rows with the rows in the vector lanes, so a block
is one sequential read and no sum needs a horizontal reduction. Measured cold (a ring of copies larger than the
caches), 2-core AMD EPYC (KVM, Zen 4), 2 threads, GB/s of weights read, a first version whose blocks interleaved the
rows a cache line at a time (the lanes layout then took int8 products 10-35 % faster again: 768 -> 3,072 in 46
against 70 us, the output head in 610 against 790 us):

    product (GPT-2-124M)      float32: OpenBLAS   native     int8: fbgemm   native
    768 -> 2,304                          30.5      49.9                22.5     30.9
    768 -> 768                            26.5      39.2                16.2     26.9
    768 -> 3,072                          39.6      49.6                22.7     28.9
    3,072 -> 768                          43.0      52.5                27.7     33.2
    768 -> 50,256 (head)                  23.1      35.1                29.8     36.5

In a stream (top-5 alternatives), a GPT-2-124M step took 9.8-12.1 ms in float32 against 19.6-19.9 ms on OpenBLAS,
and 3.3-5.2 ms in int8 against 6.8-7.4 ms on fbgemm, in the same hour (the host's bandwidth moved between runs).
Products read their weights 4 KB ahead as non-temporal lines, so the weights streaming through evict less of what
the sampler and the interpreter use between steps. A few rows (drafts) share each read of a block. The attention
goes through the cached positions in chunks, the query heads of a key/value head together, so each key and value
row is read once a step.

The library is compiled from `native_kernels.c` on first use with the system's C compiler (``cc``, or ``$CC``) for
this CPU (``-march=native``) and kept in scribe's cache folder under a key of the source, the compiler and the CPU, so
later runs load it in a millisecond. Where there is no compiler or OpenMP, or the build fails, `kernels()` is None
and the decoders use PyTorch's products as before (`build_problem()` says why). ``SCRIBE_NATIVE=0`` switches the
kernels off. They are opened after torch, so their OpenMP calls run on the libgomp PyTorch loaded: one pool of
threads for both.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Protocol

import torch

SOURCE = Path(__file__).with_name("native_kernels.c")
LIBRARY_NAME = "libscribe_kernels.so"
NATIVE_VARIABLE = "SCRIBE_NATIVE"
BLOCK = 16
"""Output rows in a packed block (as `native_kernels.c` has it)."""
INT8_GROUP = 4
"""int8 inputs of one row side by side in a block."""
INT8_PADDING = 16
"""The int8 kernel reads inputs in steps of this many (4 groups at a time)."""
MAX_HEAD_DIM = 256
"""The largest attention head a native step takes (as `native_kernels.c` has it); larger heads step in PyTorch."""
TOP_MAX = 256
"""The most positions the native partial sort finds (as `native_kernels.c` has it); more go to `torch.topk`."""
FLOAT_ROWS = 8
"""Float32 products of at most this many rows go through the native kernel (steps, drafts); longer prompts through
PyTorch's, whose matrix products are faster there."""
COMPILE_FLAGS = ("-O3", "-march=native", "-ffast-math", "-fopenmp", "-fPIC")
LINK_FLAGS = ("-shared", "-fopenmp", "-Wl,-z,defs")
"""Linked without -ffast-math: with it the linker adds crtfastmath.o, whose constructor flushes subnormal floats to
zero for the whole process."""
LIBRARIES = ("-lmvec", "-lm")
"""-lmvec: glibc's vector expf, which -ffast-math lets the attention's softmax call."""
DRIVER_ENDS = ("linker command failed", "ld returned")
"""What the compiler driver's closing line says after the linker's own message (which names the problem)."""
_P = ctypes.c_void_p
_L = ctypes.c_long


class WeightArguments(ctypes.Structure):
    """A weight as `scribe_step` takes it (`scribe_weight` in `native_kernels.c`): float32 blocks (no scales) or int8."""

    _fields_ = [("packed", _P), ("scales", _P), ("sums", _P), ("bias", _P), ("outputs", _L), ("inputs", _L),
                ("padded", _L)]


class LayerArguments(ctypes.Structure):
    """One layer of a one-token step (`scribe_layer`): its four products, the norm after the attention, the norm
    after the MLP (the next layer's first, or the final one; no biases for an RMS norm), the attention's scale."""

    _fields_ = [("qkv", WeightArguments), ("out", WeightArguments), ("up", WeightArguments),
                ("down", WeightArguments), ("norm_weight", _P), ("norm_bias", _P), ("next_weight", _P),
                ("next_bias", _P), ("scale", ctypes.c_float)]


class NativeKernels:
    """The loaded library's kernels, called on tensors' memory (float32, contiguous where noted)."""

    def __init__(self, library: ctypes.CDLL) -> None:
        self._library = library
        self.int8 = bool(library.scribe_int8_supported())
        """Whether the int8 product is built (AVX-512 with VNNI)."""
        library.scribe_float_rows.argtypes = [_P, _L, _P, _P, _P, _L, _L, ctypes.c_int]
        library.scribe_float_rows.restype = None
        library.scribe_int8_rows.argtypes = [_P, _L, _P, _P, _P, _P, _P, _L, _L, _L, ctypes.c_int]
        library.scribe_top.argtypes = [_P, _L, _L, _P]
        library.scribe_step.argtypes = [ctypes.POINTER(LayerArguments), _L, ctypes.c_int, _L, _P, _P, _P, _L, _L, _L,
                                        _L, _L, _L, _L, _P, _P, _P, _P, ctypes.c_float, ctypes.c_int]

    def step(self, layers: "ctypes.Array[LayerArguments]", *, llama: bool, x: torch.Tensor, cache: torch.Tensor,
             position: int, heads: int, inner: int, first_norm: "Norm", eps: float,
             rotary: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        """A whole one-token step through `layers` (`layer_arguments`) in one call, for the rows of `x` ([rows, hidden],
        contiguous: the tokens' embedding rows, changed in place) at one `position`; returns the final norm of the
        last layer's output ([rows, hidden]). `first_norm` is the first layer's norm. Keys and values go into `cache`
        ([layers, 2, rows, kv heads, capacity, dim], float16, contiguous; for one row the rows dimension may be left
        out) at `position`; `inner` is the MLP's width; a Llama (`llama`) takes one position's `rotary` cosines and
        sines."""
        rows, hidden = x.shape
        kv_heads, capacity, dim = cache.shape[-3:]
        if cache.dtype != torch.float16:
            raise ValueError(f"the native step's cache holds float16, not {cache.dtype}")
        if cache.numel() != len(layers) * 2 * rows * kv_heads * capacity * dim or not cache.is_contiguous():
            raise ValueError(f"a cache of shape {tuple(cache.shape)} does not hold {len(layers)} layers of {rows} rows")
        h = torch.empty_like(x)
        cos, sin = (None, None) if rotary is None else (rotary[0].data_ptr(), rotary[1].data_ptr())
        if self._library.scribe_step(layers, len(layers), llama, rows, x.data_ptr(), h.data_ptr(), cache.data_ptr(),
                                     capacity, position, heads, kv_heads, dim, hidden, inner, first_norm[0].data_ptr(),
                                     _pointer(first_norm[1]), cos, sin, eps, torch.get_num_threads()):
            raise MemoryError("no memory for a native decode step")
        return h

    def top_positions(self, values: torch.Tensor, k: int) -> torch.Tensor:
        """The positions of the k highest of `values` (1-D), best first, equal values in the order of their positions:
        the sampler's partial sort (`scribe.sampling.processors.Ranker`), one pass over a contiguous float32 CPU
        tensor (GPT-2's 50,257 scores, k = 64: ~20 against ~90 us for `torch.topk`); `torch.topk` for anything else,
        k above `TOP_MAX`, or values that keep rising along the tensor (the one pass gives up on them)."""
        if not 0 < k <= min(TOP_MAX, values.numel()) or values.dtype != torch.float32 or values.device.type != "cpu":
            return values.topk(k).indices
        values = values.contiguous()
        positions = torch.empty(k, dtype=torch.long)
        if self._library.scribe_top(values.data_ptr(), values.numel(), k, positions.data_ptr()):
            return values.topk(k).indices
        return positions

    def float_rows(self, x: torch.Tensor, weight: "FloatRows") -> torch.Tensor:
        """x [rows, inputs] (float32, contiguous) times the packed `weight`, plus its bias; [rows, outputs]."""
        out = torch.empty(x.shape[0], weight.outputs)
        self._library.scribe_float_rows(x.data_ptr(), x.shape[0], *weight.pointers, out.data_ptr(), *weight.sizes,
                                        torch.get_num_threads())
        return out

    def int8_rows(self, x: torch.Tensor, weight: "Int8Rows") -> torch.Tensor:
        """x [rows, inputs] (float32, contiguous) times the int8 `weight`, plus its bias; [rows, outputs]."""
        out = torch.empty(x.shape[0], weight.outputs)
        if self._library.scribe_int8_rows(x.data_ptr(), x.shape[0], *weight.pointers, out.data_ptr(), *weight.sizes,
                                          torch.get_num_threads()):
            raise MemoryError("no memory for the int8 product's quantised rows")
        return out


class FloatRows:
    """A float32 weight ([in, out] view) copied into the native kernels' blocks; called on rows of inputs. A copy:
    the model's own weight stays for its forward pass and for products of many rows."""

    max_rows = FLOAT_ROWS

    def __init__(self, kernels: NativeKernels, weight: torch.Tensor, bias: torch.Tensor | None) -> None:
        self.inputs, self.outputs = weight.shape
        self.kernels = kernels
        self.packed = _blocks(weight.detach().t().float(), 1)
        self.bias = None if bias is None else bias.detach().float().contiguous()
        self.pointers = (self.packed.data_ptr(), _pointer(self.bias))
        """The kernel's arguments that never change, read once (a call costs a few microseconds less)."""
        self.sizes = (self.outputs, self.inputs)

    def arguments(self) -> WeightArguments:
        """This weight as `scribe_step` takes it."""
        return WeightArguments(self.pointers[0], None, None, self.pointers[1], self.outputs, self.inputs, self.inputs)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.kernels.float_rows(x.contiguous(), self)


class Int8Rows:
    """An int8 copy of a weight ([in, out] view), one scale per output channel (symmetric, as `one_row.Projection`
    quantises for fbgemm), in the native kernels' blocks; rows of any count."""

    max_rows = sys.maxsize

    def __init__(self, kernels: NativeKernels, weight: torch.Tensor, bias: torch.Tensor | None) -> None:
        self.inputs, self.outputs = weight.shape
        self.padded_inputs = -(-self.inputs // INT8_PADDING) * INT8_PADDING
        self.kernels = kernels
        rows = weight.detach().t().float()  # [out, in]
        self.scales = int8_channel_scales(rows).contiguous()
        quantized = torch.round(rows / self.scales[:, None]).clamp_(-127, 127).to(torch.int8)
        self.sums = quantized.sum(dim=1, dtype=torch.int32)
        self.packed = _blocks(torch.nn.functional.pad(quantized, (0, self.padded_inputs - self.inputs)), INT8_GROUP)
        self.bias = None if bias is None else bias.detach().float().contiguous()
        self.pointers = (self.packed.data_ptr(), self.scales.data_ptr(), self.sums.data_ptr(), _pointer(self.bias))
        """The kernel's arguments that never change, read once (a call costs a few microseconds less)."""
        self.sizes = (self.outputs, self.inputs, self.padded_inputs)

    def arguments(self) -> WeightArguments:
        """This weight as `scribe_step` takes it."""
        return WeightArguments(*self.pointers, *self.sizes)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.kernels.int8_rows(x.contiguous(), self)


def int8_channel_scales(rows: torch.Tensor) -> torch.Tensor:
    """One symmetric int8 scale per row of a weight ([out, in], float32): its largest magnitude over 127."""
    return rows.abs().amax(dim=1).clamp(min=1e-8) / 127.0


Norm = tuple[torch.Tensor, torch.Tensor | None]
"""A norm's weight and bias (None for an RMS norm)."""


class OnKernels(Protocol):
    """A projection whose product may run on the native kernels (`one_row.Projection`)."""

    native: FloatRows | Int8Rows | None


def layer_arguments(layers: "list[tuple[tuple[OnKernels, ...], Norm, Norm, float]]") -> "ctypes.Array[LayerArguments]":
    """The layers of a one-token step for `NativeKernels.step`: per layer its four projections (queries/keys/values,
    attention output, MLP in, MLP out; each on the native kernels), the norm after the attention, the norm after the
    MLP and the attention's scale. The tensors must outlive the array (the decoder holds them)."""
    array = (LayerArguments * len(layers))()
    for slot, (projections, (norm, norm_bias), (after, after_bias), scale) in zip(array, layers):
        natives = [projection.native for projection in projections]
        if any(product is None for product in natives):
            raise ValueError("every product of a native step must run on the native kernels")
        slot.qkv, slot.out, slot.up, slot.down = (product.arguments() for product in natives if product is not None)
        slot.norm_weight, slot.norm_bias = norm.data_ptr(), _pointer(norm_bias)
        slot.next_weight, slot.next_bias = after.data_ptr(), _pointer(after_bias)
        slot.scale = scale
    return array


def _blocks(rows: torch.Tensor, group: int) -> torch.Tensor:
    """`rows` [out, in] (in a multiple of `group`) re-stored as [blocks, in / group, BLOCK, group]: the rows of each
    block of BLOCK in the lanes, `group` inputs of a row side by side; out padded with zero rows to whole blocks, the
    memory 64-byte aligned (the int8 kernel's aligned loads need it)."""
    outputs, inputs = rows.shape
    padded = torch.nn.functional.pad(rows, (0, 0, 0, -outputs % BLOCK))
    blocks = padded.view(-1, BLOCK, inputs // group, group).transpose(1, 2)
    aligned = _aligned_empty(blocks.shape, blocks.dtype)
    aligned.copy_(blocks)
    return aligned


def _aligned_empty(shape: torch.Size, dtype: torch.dtype) -> torch.Tensor:
    """An uninitialised contiguous tensor whose memory starts on a 64-byte boundary."""
    count = 1
    for size in shape:
        count *= size
    itemsize = torch.empty((), dtype=dtype).element_size()
    storage = torch.empty(count * itemsize + 64, dtype=torch.uint8)
    offset = -storage.data_ptr() % 64
    return storage[offset:offset + count * itemsize].view(dtype).view(shape)


def _pointer(tensor: torch.Tensor | None) -> int | None:
    return None if tensor is None else tensor.data_ptr()


_lock = threading.Lock()
_loaded: list[NativeKernels | None] = []
_problem: list[str] = []


def kernels() -> NativeKernels | None:
    """The native kernels, built on the first call of a machine and loaded once a process; None where they are
    switched off (``SCRIBE_NATIVE=0``, read at every call) or cannot be built here (`build_problem` says why)."""
    if switched_off():
        return None
    with _lock:
        if not _loaded:
            try:
                _loaded.append(NativeKernels(ctypes.CDLL(str(built_library()))))
            except (OSError, subprocess.SubprocessError, RuntimeError) as exc:
                _problem.append(str(exc))
                _loaded.append(None)
        return _loaded[0]


def switched_off() -> bool:
    """Whether ``SCRIBE_NATIVE`` switches the native kernels off (0, off, no or false)."""
    return os.environ.get(NATIVE_VARIABLE, "").strip().lower() in ("0", "off", "no", "false")


def build_problem() -> str | None:
    """Why `kernels()` is None, else None."""
    if switched_off():
        return f"{NATIVE_VARIABLE}={os.environ[NATIVE_VARIABLE]} switches them off"
    return _problem[0] if _problem else None


def built_library() -> Path:
    """The compiled library for this source, compiler and CPU, built into scribe's cache folder if not there yet;
    RuntimeError naming what failed."""
    from scribe.config import Paths
    from scribe.files import replace_folder

    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise RuntimeError("no C compiler (cc) found: install one (e.g. gcc) for scribe's faster CPU decoding")
    folder = Paths.discover().cache / "native" / build_key(compiler)
    library = folder / LIBRARY_NAME
    if library.is_file():
        return library

    def compile_into(tmp: Path) -> None:
        objects = tmp / "kernels.o"
        for command in ([compiler, *COMPILE_FLAGS, "-c", str(SOURCE), "-o", str(objects)],
                        [compiler, *LINK_FLAGS, str(objects), "-o", str(tmp / LIBRARY_NAME), *LIBRARIES]):
            done = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300)
            if done.returncode:
                lines = done.stderr.strip().splitlines() or ["no message"]
                errors = [line for line in lines if "error" in line and not any(end in line for end in DRIVER_ENDS)]
                first = errors[0] if errors else lines[0]  # past warnings, before the driver's own last word
                raise RuntimeError(f"compiling {SOURCE.name} with {compiler} failed: {first}")
        objects.unlink()

    replace_folder(folder, compile_into)
    return library


def build_key(compiler: str) -> str:
    """A short hash of what the built library depends on: the source, the flags, the compiler (its file, size and
    time: a stat, not a run, so that loading stays fast) and this CPU."""
    digest = hashlib.sha256(SOURCE.read_bytes())
    digest.update(" ".join((*COMPILE_FLAGS, *LINK_FLAGS, *LIBRARIES)).encode())
    try:
        path = Path(shutil.which(compiler) or compiler).resolve(strict=True)
        info = path.stat()
    except OSError as exc:
        raise RuntimeError(f"the C compiler {compiler} cannot be found: {exc.strerror or exc}") from None
    digest.update(f"{path} {info.st_size} {info.st_mtime_ns}".encode())
    digest.update(platform.machine().encode())
    digest.update(_cpu_description().encode())
    return digest.hexdigest()[:16]


def _cpu_description() -> str:
    """The model name and feature flags of this machine's first CPU (what -march=native builds for)."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace")
    except OSError:
        return platform.processor()
    first = text.split("\n\n", 1)[0]
    return "\n".join(line for line in first.splitlines() if line.startswith(("model name", "flags", "Features")))


def room_for_copies(nbytes: int, meminfo: Path = Path("/proc/meminfo")) -> bool:
    """Whether `nbytes` more of memory take at most a quarter of what is available now (MemAvailable: free memory and
    the file cache the system can drop; the native float products keep a copy of the weights)."""
    return nbytes <= available_memory(meminfo) // 4


def available_memory(meminfo: Path = Path("/proc/meminfo")) -> int:
    """Bytes of memory available to a new allocation: Linux's MemAvailable, else the free pages (0 where unknown)."""
    try:
        for line in meminfo.read_text(encoding="ascii").splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        return 0
