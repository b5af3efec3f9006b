"""What the C library's allocator does with freed memory: glibc keeps most of it for later allocations; these give it
back to the system, once (`release_free_memory`) or from then on for large blocks (`return_freed_memory_at_once`).
Where the C library is not glibc (macOS, Windows, musl) both do nothing."""

from __future__ import annotations

MMAP_THRESHOLD = 128 * 1024
"""Allocations from this size on get pages of their own, given back when freed (glibc's starting threshold)."""
_M_MMAP_THRESHOLD = -3
"""glibc's mallopt parameter number for the mmap threshold (malloc.h)."""


def release_free_memory() -> None:
    """Give the free pages of glibc's heaps back to the system (`malloc_trim`)."""
    trim = _c_library_function("malloc_trim")
    if trim is not None:
        trim(0)


def return_freed_memory_at_once() -> bool:
    """Have glibc give every freed allocation of `MMAP_THRESHOLD` or more straight back to the system, so that a
    training step peaks near its live tensors (`micro_batches.TIGHT_STEP_FACTOR`): by default its threshold grows to
    the largest block freed (up to 32 MB) and smaller blocks then come from heaps that keep what is freed. Steps run
    slower, every large tensor being fresh pages (LoRA on GPT-2-124M, 2-core AMD EPYC, set after loading as the
    trainer does: 148-184 against 188-192 tokens/s). False where the C library has no such setting (not glibc)."""
    mallopt = _c_library_function("mallopt")
    return mallopt is not None and mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1


def _c_library_function(name: str):  # noqa: ANN202 - a ctypes function, or None
    """The C library's function `name` (None where this C library has none, as outside glibc)."""
    import ctypes

    return getattr(ctypes.CDLL(None), name, None)
