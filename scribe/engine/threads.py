"""How PyTorch's CPU threads wait and how many there are: process-wide settings made before torch is imported.

Decoding one token at batch 1 runs hundreds of short parallel regions. PyTorch's CPU builds use GNU OpenMP, whose
idle threads busy-wait (spin) between regions. When other programs keep the cores busy, a spinning thread holds a
core that the thread with the work needs, so every region waits for a time slice: on this project's 2-core machine
under load, GPT-2-124M decoding with 2 threads took 0.5-2 s per token with spinning and 65-100 ms with passive
waiting (`bench/openmp_wait.py` measures both policies on a quiet machine too). scribe's commands therefore ask for
passive waiting unless the user chose a policy, and `SCRIBE_THREADS` sets the intra-op thread count.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager

WAIT_VARIABLES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")
"""Variables through which a user already chose how OpenMP threads wait (left alone when set)."""
THREADS_VARIABLE = "SCRIBE_THREADS"


def prepare_cpu_threads(environ: MutableMapping[str, str] = os.environ) -> bool:
    """Ask OpenMP for passive waiting; True when it will apply (torch not imported yet, no policy set by the user)."""
    if "torch" in sys.modules or any(name in environ for name in WAIT_VARIABLES):
        return False
    environ["OMP_WAIT_POLICY"] = "PASSIVE"
    return True


def requested_threads(environ: MutableMapping[str, str] = os.environ) -> int | None:
    """The intra-op thread count from SCRIBE_THREADS (None: PyTorch's default, one per core)."""
    value = environ.get(THREADS_VARIABLE, "").strip()
    if not value:
        return None
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{THREADS_VARIABLE}={value!r}: give a whole number of threads, 1 or more")
    return int(value)


@contextmanager
def intra_op_threads(count: int | None) -> Iterator[None]:
    """Run the block with `count` torch intra-op threads (None: as they are), then give the old count back."""
    import torch

    threads = torch.get_num_threads()
    if count is None or count == threads:
        yield
        return
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def apply_threads(environ: MutableMapping[str, str] = os.environ) -> int:
    """Set torch's intra-op threads from SCRIBE_THREADS (when given); the count in use."""
    import torch

    threads = requested_threads(environ)
    if threads is not None and threads != torch.get_num_threads():
        torch.set_num_threads(threads)
    return torch.get_num_threads()
