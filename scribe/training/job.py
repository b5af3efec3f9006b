"""A training run as its own process: `python -m scribe.training.job CONFIG.json`.

The config file holds a `TrainConfig` as JSON. Progress events go to stdout as JSON lines (only the main process's,
under torchrun or accelerate launch); anything else the libraries print goes to stderr. The first SIGINT or SIGTERM
asks the run to stop after the current step, write a checkpoint and save the model; a second one stops at once
(`StopNow` unwinds the run: a checkpoint being written is dropped and the previous one kept, see `replace_folder`).
Until training starts, a `preparing` event every PROGRESS_SECONDS says what data preparation is doing, and a
SIGINT/SIGTERM stops it at once (exit 130, nothing to save). Exit status: 0 when training finished, 130 when it was
cancelled (checkpoint written, model saved; or during data preparation), 75 (`EXIT_STOPPED_AT_ONCE`) when a second
cancel stopped it at once (the last checkpoint is kept for `--resume`), 1 on an error (reported as an `error` event).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from scribe.types import EngineError
from scribe.training.events import Error, Event, Finished, Preparing, Started

EXIT_CANCELLED = 130
"""The first cancel: the run stopped after a step, wrote a checkpoint and saved the model."""
EXIT_STOPPED_AT_ONCE = 75
"""A second cancel stopped the run at once (EX_TEMPFAIL: try again, with --resume); nothing was saved past the last
checkpoint."""


PROGRESS_SECONDS = 2.0
"""How often a job reports data preparation (`preparing` events) until training starts."""


class StopNow(BaseException):
    """Raised by a second SIGINT/SIGTERM: unwinds the run at once. Not a KeyboardInterrupt, so that the trainer's
    own handling of an interrupt (checkpoint, then save) does not catch it."""


class CancelledWhilePreparing(BaseException):
    """Raised by a SIGINT/SIGTERM before training started: there is nothing to checkpoint, so data preparation stops
    at once."""


def event_writer(out: TextIO):  # noqa: ANN201 - Callable[[Event], None]
    """An emit function writing one JSON line per event to `out` (from any thread)."""
    lock = threading.Lock()

    def emit(event: Event) -> None:
        with lock:
            out.write(event.to_json() + "\n")
            out.flush()

    return emit


class Preparation:
    """Wraps a job's emit: once data preparation has gone on for `every` seconds (`scribe.training.corpus.stage`), a
    thread sends a `preparing` event with its stage every `every` seconds until training starts (a `started` event,
    or an end)."""

    def __init__(self, emit: Callable[[Event], None], every: float = PROGRESS_SECONDS) -> None:
        self._emit = emit
        self.done = threading.Event()
        threading.Thread(target=self._report, args=(every,), daemon=True, name="preparation-progress").start()

    def emit(self, event: Event) -> None:
        if isinstance(event, (Started, Finished, Error)):
            self.done.set()
        self._emit(event)

    @property
    def preparing(self) -> bool:
        return not self.done.is_set()

    def _report(self, every: float) -> None:
        from scribe.training.corpus import stage

        last = 0.0
        while not self.done.wait(every / 8):
            now, current = time.monotonic(), stage()
            if current is not None and now - current[1] >= every and now - last >= every and not self.done.is_set():
                self._emit(Preparing(current[0], round(now - current[1], 1)))
                last = now


def install_cancel_handlers(cancel: threading.Event, preparing: Callable[[], bool] = lambda: False) -> None:
    """SIGINT/SIGTERM: while `preparing()`, raise CancelledWhilePreparing; otherwise the first sets `cancel`, a second
    raises StopNow."""

    def handler(signum: int, frame: object) -> None:
        if preparing():
            cancel.set()
            raise CancelledWhilePreparing
        if cancel.is_set():
            raise StopNow
        cancel.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def quiet_libraries() -> None:
    """No progress bars or advisory warnings from transformers and peft on the job's output."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()


def run_config(config, emit, cancel: threading.Event) -> int:  # noqa: ANN001 - TrainConfig, Callable
    """Run one training; errors become an `error` event. Returns the exit status."""
    from scribe.training.trainer import Trainer

    return run_trainer(lambda: Trainer(config, emit, cancel=cancel).run(), emit)


def run_trainer(run: Callable[[], Finished], emit: Callable[[Event], None]) -> int:
    """Call `run` (a trainer's run); errors become an `error` event. Returns the job's exit status."""
    try:
        finished = run()
    except (ValueError, OSError, EngineError) as exc:
        emit(Error(str(exc)))
        return 1
    except CancelledWhilePreparing:
        emit(Error("cancelled while preparing the data; nothing was trained (run the command again to start)"))
        return EXIT_CANCELLED
    except StopNow:
        emit(Error("stopped at once by a second cancel; the last checkpoint, if any, is kept"))
        return EXIT_STOPPED_AT_ONCE
    return EXIT_CANCELLED if finished.reason == "interrupted" else 0


def job_main(argv: list[str] | None, module: str,
             run: Callable[[str, Callable[[Event], None], threading.Event], int]) -> int:
    """The body of a job process (`python -m MODULE CONFIG.json`): the event stream on stdout (stray prints go to
    stderr), cancel handlers, then `run(config_path, emit, cancel)`, which returns the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print(f"usage: python -m {module} CONFIG.json", file=sys.stderr)
        return 2
    events = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray prints cannot corrupt the event stream
    preparation = Preparation(event_writer(events))
    cancel = threading.Event()
    install_cancel_handlers(cancel, lambda: preparation.preparing)
    return run(argv[0], preparation.emit, cancel)


def _run_file(config_path: str, emit: Callable[[Event], None], cancel: threading.Event) -> int:
    from scribe.training.trainer import TrainConfig

    try:
        config = TrainConfig.from_json(Path(config_path).read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError) as exc:
        emit(Error(f"cannot read the job settings {config_path}: {exc}"))
        return 1
    quiet_libraries()
    return run_config(config, emit, cancel)


def main(argv: list[str] | None = None) -> int:
    return job_main(argv, "scribe.training.job", _run_file)


if __name__ == "__main__":
    sys.exit(main())
