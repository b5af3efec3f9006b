"""How PyTorch's CPU threads wait and how many each decode step runs on.

Decoding one token at batch 1 runs hundreds of short parallel regions. PyTorch's CPU builds use GNU OpenMP, whose
idle threads busy-wait (spin) between regions, by default for up to a few milliseconds; when other programs keep the
cores busy, a spinning thread holds a core that the thread with the work needs. Passive waiting (no spin) avoids that
but costs every region a wake-up. Measured with `bench/openmp_wait.py` (GPT-2-124M shape, float32, 2-core Intel Xeon
with ~19 GB/s of read bandwidth, tokens/s):

    waiting, threads            quiet   1 busy process   2 busy
    passive, 2                   17.9        15.7           7.6
    default spin, 2              24.4         6.2           7.3
    short spin (scribe), 2       22.2         5.1           6.8
    short spin, 1                19.1        19.1          11.1
    short spin, scribe picks     18.3        18.7          10.6

(Quiet, scribe picked two threads at every look; on this machine the spread between quiet runs is as large as the
gaps between the rows.) So scribe's commands ask for a short spin (`SPIN_COUNT`) before torch loads, unless the user
chose a policy, and each one-token step runs on all of torch's threads less the cores the other programs keep busy
(`StepThreads`). `SCRIBE_THREADS` fixes the count.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from contextlib import AbstractContextManager, contextmanager

WAIT_VARIABLES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")
"""Variables through which a user already chose how OpenMP threads wait (left alone when set)."""
THREADS_VARIABLE = "SCRIBE_THREADS"
SPIN_COUNT = 50_000
"""Turns of OpenMP's wait loop before an idle thread sleeps: long enough to bridge the gaps between the parallel
regions of one step, short enough that an idle thread soon gives its core back (GNU OpenMP's default is 300,000).
Measured on a 2-core Intel Xeon (KVM), 2 threads: a 576 x 1,536 product right after single-threaded work took
~85 us when the other thread was still spinning and 150-280 us when it had to be woken, and 50,000 turns kept it
spinning through gaps of up to ~300 us, 10,000 through ~50 us. A one-token step of a 30-layer Llama with tiny
matrices (nothing but the per-layer overhead) took 10.3-10.6 ms with 10,000 turns, 5.3-6.3 ms with 50,000, 5.2-6.3 ms
with 100,000 and 4.4 ms on one thread; the SmolLM2-135M shape (float32) 42-57 ms against 52-69 ms with 10,000
(medians of 4 interleaved pairs on a noisy machine)."""


HUGE_PAGES_VARIABLE = "THP_MEM_ALLOC_ENABLE"
"""PyTorch's switch for transparent huge pages: its CPU allocations of 2 MB or more are aligned to 2 MB and advised
to the kernel as huge-page memory. A decode step streams every weight matrix once, and with the weights in huge
pages (`one_row.in_fresh_memory`) a GPT-2-124M step took 18.4-18.8 ms against 19.1-19.2 ms in 4 KB pages (2-core
Intel Xeon, float32, 3 runs each). Training is the other way round: it allocates and frees large activations every
step, and in huge pages a LoRA step of GPT-2-124M (8 x 128 tokens) took 3.9-4.4 s against 3.1-3.4 s, so training
processes run without it (`training_environment`)."""
HUGE_PAGES_MARK = "SCRIBE_CHOSE_HUGE_PAGES"
"""Set beside `HUGE_PAGES_VARIABLE` when scribe (not the user) switched huge pages on, so that a training process
started from scribe can leave them off."""


def prepare_cpu_threads(environ: MutableMapping[str, str] = os.environ, *, huge_pages: bool = True) -> bool:
    """Ask OpenMP for a short spin before its threads sleep, and PyTorch for huge pages when `huge_pages` (unless the
    user set either); True when the spin will apply (torch not imported yet, no policy set by the user)."""
    if "torch" in sys.modules:
        return False
    if huge_pages and HUGE_PAGES_VARIABLE not in environ:
        environ[HUGE_PAGES_VARIABLE] = "1"
        environ[HUGE_PAGES_MARK] = "1"
    if any(name in environ for name in WAIT_VARIABLES):
        return False
    environ["GOMP_SPINCOUNT"] = str(SPIN_COUNT)
    return True


def training_environment(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """A copy of `environ` for a training process: without the huge-page switch when scribe set it for decoding (a
    user's own setting stays)."""
    copy = dict(environ)
    if copy.pop(HUGE_PAGES_MARK, None) is not None:
        copy.pop(HUGE_PAGES_VARIABLE, None)
    return copy


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


@contextmanager
def openblas_step_threads(count: int) -> Iterator[None]:
    """One step whose products run on numpy's OpenBLAS with `count` threads while PyTorch's own operations run on one
    thread; torch's count is given back after."""
    from scribe.engine.blas import set_openblas_threads

    set_openblas_threads(count)
    with intra_op_threads(1):
        yield


def apply_threads(environ: MutableMapping[str, str] = os.environ) -> int:
    """Set torch's intra-op threads from SCRIBE_THREADS (when given); the count in use."""
    import torch

    threads = requested_threads(environ)
    if threads is not None and threads != torch.get_num_threads():
        torch.set_num_threads(threads)
    return torch.get_num_threads()


class OtherLoad:
    """How many cores the other programs kept busy since the last look: the machine's busy time (/proc/stat, steal
    included) less this process's own CPU time, over the wall time between looks. Linux only (None elsewhere)."""

    def __init__(self, read_machine: Callable[[], float | None] | None = None,
                 read_process: Callable[[], float] | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self._read_machine = read_machine or machine_busy_seconds
        self._read_process = read_process or _process_seconds
        self._clock = clock
        self._last: tuple[float, float, float] | None = None

    def cores(self, *, restart: bool = False) -> float | None:
        """Cores the others used since the previous call (None on the first call, after a `restart`, which only
        starts a new window, or without /proc/stat)."""
        machine = self._read_machine()
        if machine is None:
            return None
        now = (self._clock(), machine, self._read_process())
        last, self._last = self._last, now
        if restart or last is None or now[0] <= last[0]:
            return None
        others = (now[1] - last[1]) - (now[2] - last[2])
        return max(0.0, others / (now[0] - last[0]))


def machine_busy_seconds(path: str = "/proc/stat") -> float | None:
    """Seconds every core of the machine spent busy since boot (all but idle and I/O wait; None without `path`)."""
    try:
        with open(path, encoding="ascii") as stat:
            fields = stat.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    ticks = [int(value) for value in fields[1:9]]  # user nice system idle iowait irq softirq steal
    busy = sum(ticks) - ticks[3] - ticks[4]
    return busy / os.sysconf("SC_CLK_TCK")


def _process_seconds() -> float:
    times = os.times()
    return times.user + times.system


class StepThreads:
    """The intra-op thread count of each one-token step: `fixed` when given (SCRIBE_THREADS, or a backend's own
    rule), else all of torch's threads less the cores the other programs keep busy (`OtherLoad`, looked at every
    `LOOK_EVERY` seconds while steps run), at least one. After a pause (between two streams) the first look starts a
    new window and the steps take all threads until the next. A prompt runs on torch's setting."""

    LOOK_EVERY = 0.25

    def __init__(self, fixed: int | None = None, *, load: OtherLoad | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.fixed = fixed
        self.openblas = False
        """Whether the steps' products run on numpy's OpenBLAS (`openblas_step_threads`: the count is
        OpenBLAS's, torch's own operations run on one thread)."""
        self._load = load or OtherLoad()
        self._clock = clock
        self._most: int | None = None
        self._count: int | None = None
        self._next_look = 0.0

    def scope(self, prompt: bool) -> AbstractContextManager[object]:
        """A context manager that runs one step (`prompt`: the prompt's pass) on its thread count."""
        if prompt:
            return intra_op_threads(None)
        count = self.fixed if self.fixed is not None else self.count()
        if self.openblas:
            return openblas_step_threads(count)
        return intra_op_threads(count)

    def count(self) -> int:
        """The thread count for the next step."""
        import torch

        if self._most is None:
            self._most = torch.get_num_threads()
        now = self._clock()
        if self._count is None or now >= self._next_look:
            paused = now > self._next_look + self.LOOK_EVERY  # what the others did before the pause says nothing now
            self._next_look = now + self.LOOK_EVERY
            others = self._load.cores(restart=paused)
            if others is None:
                self._count = self._most
            else:
                cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
                self._count = max(1, min(self._most, int(cores - others + 0.25)))
        return self._count
