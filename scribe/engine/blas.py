"""One-row float32 products through numpy's OpenBLAS, on the CPUs where it streams the weights faster than PyTorch.

A decode step multiplies one row by every weight matrix, so its speed is how fast the matrices stream from memory.
PyTorch's CPU wheels multiply through Intel's MKL, whose one-row products stream well on Intel CPUs and slowly on AMD
ones; numpy's wheels bring OpenBLAS, which streams near the memory's limit on both. Measured cold (a ring of copies
larger than the caches) on a 2-core AMD EPYC (KVM, Zen 4, 30-44 GB/s of read bandwidth), 2 threads, GB/s:

    product (GPT-2-124M)      PyTorch (MKL)   OpenBLAS
    768 -> 2,304                  17.7           30.1
    768 -> 3,072                  20.3           30.2
    3,072 -> 768                  17.9           30.0
    768 -> 50,257 (head)          19.7           27.4

so scribe's decoders take OpenBLAS for float32 steps on AMD CPUs where its native kernels (`scribe.engine.native`,
faster still) are off or cannot be built (`openblas_preferred`; `SCRIBE_BLAS=openblas` or `torch` decides
elsewhere). OpenBLAS keeps its own threads, which wait spinning after each product: a step then runs PyTorch's own
operations (norms, sampling) on one thread and the products, the attention's included (`one_row.attend_one_openblas`),
on the step's thread count (`threads.openblas_step_threads`), so that no two pools fight for the cores (with both on
two threads the same model decoded at 10 tokens/s instead of 45).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cache
from pathlib import Path

BLAS_VARIABLE = "SCRIBE_BLAS"
CHOICES = ("openblas", "torch")


def openblas_preferred(environ: Mapping[str, str] = os.environ, cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether float32 one-row products should go through numpy's OpenBLAS: `SCRIBE_BLAS` when set, else on an AMD
    CPU (`cpu_vendor`) when numpy was built with OpenBLAS."""
    value = environ.get(BLAS_VARIABLE, "").strip().lower()
    if value and value not in CHOICES:
        raise ValueError(f"{BLAS_VARIABLE}={value!r}: use openblas or torch (or leave it unset: scribe picks)")
    if value:
        return value == "openblas"
    return cpu_vendor(cpuinfo) == "AuthenticAMD" and numpy_has_openblas()


def cpu_vendor(cpuinfo: Path = Path("/proc/cpuinfo")) -> str | None:
    """The x86 vendor string of the first CPU in `cpuinfo` ("GenuineIntel", "AuthenticAMD"), None where unknown."""
    try:
        with cpuinfo.open(encoding="ascii", errors="replace") as lines:
            for line in lines:
                name, _, value = line.partition(":")
                if name.strip() == "vendor_id":
                    return value.strip()
    except OSError:
        pass
    return None


@cache
def numpy_has_openblas() -> bool:
    """Whether numpy's linear algebra runs on OpenBLAS (as in its wheels for Linux and Windows)."""
    return _openblas_controller() is not None


@cache
def _openblas_controller():  # noqa: ANN202 - threadpoolctl's controller of numpy's OpenBLAS, or None
    import numpy  # noqa: F401 - loads numpy's OpenBLAS, so that threadpoolctl finds it
    from threadpoolctl import ThreadpoolController

    controller = ThreadpoolController().select(internal_api="openblas")
    return controller if controller.lib_controllers else None


def set_openblas_threads(count: int) -> None:
    """Let OpenBLAS's products use `count` threads (under a microsecond: a step asks every time)."""
    controller = _openblas_controller()
    for library in controller.lib_controllers if controller is not None else ():
        library.set_num_threads(count)
