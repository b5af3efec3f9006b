"""A training run as its own process: `python -m scribe.training.job CONFIG.json`.

The config file holds a `TrainConfig` as JSON. Progress events go to stdout as JSON lines (only the main process's,
under torchrun or accelerate launch); anything else the libraries print goes to stderr. The first SIGINT or SIGTERM
asks the run to stop after the current step, write a checkpoint and save the model; a second one stops at once
(`StopNow` unwinds the run: a checkpoint being written is dropped and the previous one kept, see `replace_folder`).
Exit status: 0 when training finished, 130 when it was cancelled (checkpoint written, model saved), 75
(`EXIT_STOPPED_AT_ONCE`) when a second cancel stopped it at once (the last checkpoint is kept for `--resume`), 1 on an
error (reported as an `error` event).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from scribe.types import EngineError
from scribe.training.events import Error, Event, Finished

EXIT_CANCELLED = 130
"""The first cancel: the run stopped after a step, wrote a checkpoint and saved the model."""
EXIT_STOPPED_AT_ONCE = 75
"""A second cancel stopped the run at once (EX_TEMPFAIL: try again, with --resume); nothing was saved past the last
checkpoint."""


class StopNow(BaseException):
    """Raised by a second SIGINT/SIGTERM: unwinds the run at once. Not a KeyboardInterrupt, so that the trainer's
    own handling of an interrupt (checkpoint, then save) does not catch it."""


def event_writer(out: TextIO):  # noqa: ANN201 - Callable[[Event], None]
    """An emit function writing one JSON line per event to `out`."""

    def emit(event: Event) -> None:
        out.write(event.to_json() + "\n")
        out.flush()

    return emit


def install_cancel_handlers(cancel: threading.Event) -> None:
    """SIGINT/SIGTERM: the first sets `cancel`, a second raises StopNow."""

    def handler(signum: int, frame: object) -> None:
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
    emit = event_writer(events)
    cancel = threading.Event()
    install_cancel_handlers(cancel)
    return run(argv[0], emit, cancel)


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
