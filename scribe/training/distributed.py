"""How the data-parallel training processes (torch.distributed, one per rank) stay together and end together.

The process group is started with a timeout (`SCRIBE_DDP_TIMEOUT` seconds, DEFAULT_TIMEOUT_S when unset): a process
never waits longer than that for the others at a collective call. Work only the main process does (checkpoints, the
best weights, the final save) goes through `on_main`, which tells every process how it went, so that when it fails
all of them stop at once with the same error instead of waiting for a process that gave up. A collective call that
fails (another process ended, or none answered in time) ends the process with a one-line TrainingError.
"""

from __future__ import annotations

import math
import os
import re
import sys
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from scribe.training.trainer import Ranks

TIMEOUT_VARIABLE = "SCRIBE_DDP_TIMEOUT"
DEFAULT_TIMEOUT_S = 1800.0
"""How long a process waits at a collective call for the others (while the main process saves the model, say)."""

T = TypeVar("T")


def timeout_s(environ: Mapping[str, str] = os.environ) -> float:
    """The collective timeout in seconds (`SCRIBE_DDP_TIMEOUT`, a number above 0; TrainingError when it is not)."""
    raw = environ.get(TIMEOUT_VARIABLE, "").strip()
    if not raw:
        return DEFAULT_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise _error(f"{TIMEOUT_VARIABLE}={raw!r} is not a number of seconds above 0: give one, or unset it "
                            f"for the default ({DEFAULT_TIMEOUT_S:.0f} s)")
    return value


def start(backend: str) -> None:
    """Join the process group (torchrun's variables say where), with the collective timeout."""
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group(backend, timeout=timedelta(seconds=timeout_s()))


def finish() -> None:
    """Leave the process group, when this process joined one, before the interpreter ends: exiting with gloo's threads
    still running sometimes aborted a rank ("terminate called without an active exception", SIGABRT) after a clean
    stop, and the launcher then reported the whole job as failed."""
    if "torch.distributed" not in sys.modules:
        return
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def collective(ranks: Ranks, doing: str, call: Callable[[], T]) -> T:
    """`call()`, a collective call made while `doing` (such as "saving the model"); when another process has ended or
    none answered within the timeout, a one-line TrainingError says so."""
    try:
        return call()
    except RuntimeError as exc:  # torch.distributed.DistBackendError and gloo's own errors are RuntimeErrors
        raise _error(_lost(ranks, doing, exc)) from exc


def on_main(ranks: Ranks, doing: str, work: Callable[[], None]) -> None:
    """Do `work` in the main process only, then tell every process how it went (a barrier too: none goes on before
    it is done). When it raised, the main process raises that exception again and the others a TrainingError with
    the same message, so every process ends with the error the writer sees."""
    failure: Exception | None = None
    if ranks.main:
        try:
            work()
        except Exception as exc:  # any: the other processes must hear of it before this one unwinds
            failure = exc
    if ranks.world > 1:
        import torch.distributed as dist

        shared = [None if failure is None else _message(failure)]
        collective(ranks, doing, lambda: dist.broadcast_object_list(shared, src=0))
        if failure is None and shared[0] is not None:
            raise _error(shared[0])
    if failure is not None:
        raise failure


def _error(message: str) -> Exception:
    """A TrainingError. trainer.py, which imports this module, is loaded by the time this runs, so the import reads
    nothing from disk at the end of a run (see `scribe.training.job.END_OF_RUN`)."""
    from scribe.training.trainer import TrainingError

    return TrainingError(message)


def _message(exc: Exception) -> str:
    """What the job reports for `exc` (`scribe.training.job.run_trainer` reports these types by their text)."""
    return str(exc) if isinstance(exc, (ValueError, OSError)) else f"{type(exc).__name__}: {exc}"


def _lost(ranks: Ranks, doing: str, exc: RuntimeError) -> str:
    """The one-line message for a failed collective call: which process, doing what, and why."""
    lines = str(exc).strip().splitlines()
    detail = re.sub(r"^\[[^\]]*\]\s*", "", lines[0]).split(". ")[0] if lines else type(exc).__name__
    if "timed out" in detail.lower() or "timeout" in detail.lower():
        why = (f"no answer from the other processes within {timeout_s():g} s (set {TIMEOUT_VARIABLE} to wait "
               f"longer)")
    else:
        why = "another process ended (its error is in the job log)"
    return (f"training process {ranks.rank} of {ranks.world} stopped while {doing}: {why} [{detail}]; "
            f"the last checkpoint written, if any, is kept")
