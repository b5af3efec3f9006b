"""A training run as its own process: `python -m scribe.training.job CONFIG.json`.

The config file holds a `TrainConfig` as JSON. Progress events go to stdout as JSON lines (only the main process's,
under torchrun or accelerate launch); anything else the libraries print goes to stderr. The first SIGINT or SIGTERM
asks the run to stop after the current step, write a checkpoint and save the model; a second one stops at once
(`StopNow` unwinds the run: a checkpoint being written is dropped and the previous one kept, see `replace_folder`).
Until training starts, a `preparing` event every PROGRESS_SECONDS says what data preparation is doing, and a
SIGINT/SIGTERM stops it at once (exit 130, nothing to save). Exit status: 0 when training finished, 130 when it was
cancelled (checkpoint written, model saved; or during data preparation), 75 (`EXIT_STOPPED_AT_ONCE`) when a second
cancel stopped it at once (the last checkpoint is kept for `--resume`), 1 on an error (reported as an `error` event).

Before its first step a job imports, and where it is cheap runs once, everything the end of its run needs
(`load_the_end`, `END_OF_RUN`): a run lasts hours, and scribe or its libraries may be upgraded or edited meanwhile,
so code read from disk at the end could be another version, or broken. If the final save fails all the same, the error
names the checkpoint kept and the command that continues from it (`save_failed`).

When the process that started the job stops reading its events (`scribe train` or the studio killed, the terminal
closed), the job stops as a first cancel does and says so in its log (`EventStream`, `reader_gone_line`).

Under torch.distributed.run every rank shares the job's stdout, and rank 0 speaks for the run (`RankEvents`): the
others send only their own errors (a rank that gave up waiting for rank 0 says so), and a SIGINT to one of them is
always a first cancel, agreed on by every rank at the next step (before then, rank 0 stops at once and the launcher
ends the others).
"""

from __future__ import annotations

import importlib
import io
import json
import os
import select
import shlex
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from scribe.files import describe_os_error
from scribe.types import EngineError
from scribe.training import distributed
from scribe.training.events import Checkpoint, Error, Event, Finished, Preparing, Saved, Started

EXIT_CANCELLED = 130
"""The first cancel: the run stopped after a step, wrote a checkpoint and saved the model."""
EXIT_STOPPED_AT_ONCE = 75
"""A second cancel stopped the run at once (EX_TEMPFAIL: try again, with --resume); nothing was saved past the last
checkpoint."""


CANCELLED_WHILE_PREPARING = "cancelled while preparing the data; nothing was trained (run the command again to start)"
STOPPED_AT_ONCE = "stopped at once by a second cancel; the last checkpoint, if any, is kept"

PROGRESS_SECONDS = 2.0
"""How often a job reports data preparation (`preparing` events) until training starts."""
READER_CHECK_SECONDS = 0.5
"""How often a job checks that the process that started it still reads its events."""


class StopNow(BaseException):
    """Raised by a second SIGINT/SIGTERM: unwinds the run at once. Not a KeyboardInterrupt, so that the trainer's
    own handling of an interrupt (checkpoint, then save) does not catch it."""


class CancelledWhilePreparing(BaseException):
    """Raised by a SIGINT/SIGTERM before training started: there is nothing to checkpoint, so data preparation stops
    at once."""


class EventStream:
    """The job's events, one JSON line each, to the process that started it (a pipe it reads), from any thread.

    When that reader is gone (a write meets a broken pipe, the pipe reports that nobody reads it, or the parent process
    has ended: a `kill -9` of `scribe train`, a closed terminal, a killed studio), `gone` says why, later events are
    dropped (the stream then writes to /dev/null, so nothing fails at exit) and `on_gone(reason)` is called once, from
    whichever thread noticed. A watcher thread checks every `every` seconds until `close()`. `checkpoint` and
    `saved_path` remember the last checkpoint and saved model, and `error` the last error, for the line that says what
    the job left."""

    def __init__(self, out: TextIO, on_gone: Callable[[str], None] = lambda reason: None, *,
                 every: float = READER_CHECK_SECONDS) -> None:
        self._out = out
        self._on_gone = on_gone
        self._lock = threading.Lock()
        self._parent = os.getppid()
        self._closed = threading.Event()
        self.gone: str | None = None
        self.checkpoint: Checkpoint | None = None
        self.saved_path: str | None = None
        self.error: str | None = None
        threading.Thread(target=self._watch, args=(every,), daemon=True, name="event-reader-watch").start()

    def emit(self, event: Event) -> None:
        """Write `event` (dropped once the reader is gone)."""
        if isinstance(event, Checkpoint):
            self.checkpoint = event
        elif isinstance(event, Saved):
            self.saved_path = event.path
        elif isinstance(event, Error):
            self.error = event.message
        with self._lock:
            if self.gone is not None:
                return
            try:
                self._out.write(event.to_json() + "\n")
                self._out.flush()
            except BrokenPipeError:
                reason = "the event pipe was closed"
            else:
                return
        self._lost(reason)

    def close(self) -> None:
        """Stop watching the reader."""
        self._closed.set()

    def _watch(self, every: float) -> None:
        poller = select.poll()
        poller.register(self._out.fileno(), 0)  # a pipe's write end reports POLLERR once no process reads it
        while not self._closed.wait(every) and self.gone is None:
            if any(flags & (select.POLLERR | select.POLLHUP) for _, flags in poller.poll(0)):
                self._lost("nothing reads the job's events any more")
            elif os.getppid() != self._parent:
                self._lost(f"its process {self._parent} ended")

    def _lost(self, reason: str) -> None:
        with self._lock:
            if self.gone is not None:
                return
            self.gone = reason
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, self._out.fileno())  # what is still buffered, and the flush at exit, go nowhere
            os.close(null)
        self._on_gone(reason)


class RankEvents:
    """The events a rank other than 0 sends: only its own errors. Rank 0 reports progress, the end of the run and a
    cancel (`CANCELLED_WHILE_PREPARING`, `STOPPED_AT_ONCE`) for every rank; an error every rank meets (a failed save
    that rank 0 shares, unreadable data) comes once from each and is read once (`TrainingJob.events`)."""

    def __init__(self, emit: Callable[[Event], None]) -> None:
        self._emit = emit

    def emit(self, event: Event) -> None:
        if isinstance(event, Error) and event.message not in (CANCELLED_WHILE_PREPARING, STOPPED_AT_ONCE):
            self._emit(event)


def resume_command(command: str) -> str:
    """The command line that continues `command` (a `scribe train ...` line) from its checkpoint."""
    return command if "--resume" in shlex.split(command) else command + " --resume"


def reader_gone_line(stream: EventStream, status: int, command: str) -> str:
    """The job.log line of a job whose reader went away: why it stopped, what it left, and how to go on (the
    `--resume` command when `command` is a `scribe train` line; the studio's training screen has none)."""
    cli = command.startswith("scribe train")
    head = f"the command that started this job is gone ({stream.gone})"
    saved = f", the model trained so far saved in {stream.saved_path}" if stream.saved_path else ""
    if status == 0:
        return f"{head}; the run had finished{saved}"
    again = f"; run the command again: {command}" if cli else ""
    if stream.checkpoint is not None and status != 1:
        step = f"{head}; stopped at step {stream.checkpoint.step} with a checkpoint"
        if cli:
            return f"{step}{saved}; resume with: {resume_command(command)}"
        return f"{step} in {stream.checkpoint.path}{saved}"
    if status == EXIT_CANCELLED:
        return f"{head}; stopped before training started, nothing trained{again}"
    return f"{head}; the job ended with an error: {stream.error}{again}"


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


END_OF_RUN: dict[str, tuple[str, ...]] = {
    "transformers": (
        "scribe.training.evaluate",  # the evaluations: the first may come hours in, one comes at the end
        "scribe.training.card",  # the model card
        "scribe.training.curves",  # metrics.jsonl and curves.svg
        "safetensors.torch",  # the checkpoints and the best weights (LoRA's merge: set-up imported it)
    ),
    "keras": (
        "scribe.keras_models.runtime",  # the samples at each epoch's end (it imports torch)
        "scribe.sampling.params",
        "scribe.types",
        "scribe.training.card",  # the Keras card uses its front matter, tables and notes
    ),
}
"""What the end of a run imports inside functions, by trainer, that is not yet imported when a job reports `started`
(found by comparing `sys.modules` then and at the end of a tiny run of each mode). tests/reliability/test_job_imports.py
breaks every module of scribe once a job has started and checks that it still saves its model."""


def load_the_end(trainer: str) -> None:
    """Import what the end of a `trainer` run (a key of END_OF_RUN) needs, and run once, on nothing, the library code
    that imports more on its first call: the card's front matter (huggingface_hub's YAML), the curves' picture and, for
    transformers, torch's and safetensors' checkpoint writers and an optimiser's step. A few milliseconds once those
    libraries are imported (the run imports them anyway; for Keras, torch comes earlier than its first samples)."""
    for name in END_OF_RUN[trainer]:
        importlib.import_module(name)
    from scribe.training.card import front_matter
    from scribe.training.curves import curve_svg

    front_matter(trainer)
    curve_svg([{"step": 0, "val_loss": 1.0, "perplexity": 2.7, "train_loss": 1.1}])
    if trainer == "transformers":
        import torch
        from safetensors.torch import save

        torch.save({"rng": torch.get_rng_state()}, io.BytesIO())
        save({"weights": torch.zeros(1)})
        torch.optim.AdamW([torch.zeros(1, requires_grad=True)]).step()  # its profiling hook imports on a first step


def save_failed(output: Path, exc: Exception, kept: str | None, command: str) -> str:
    """The message when a run's model could not be saved to `output` because of `exc`: what is kept (`kept`, such as
    "the checkpoint at step 20 in FOLDER"; None: nothing yet) and how to continue from it (the exact command when
    `command` is a `scribe train` line)."""
    if isinstance(exc, OSError) and exc.filename:
        cause = describe_os_error(exc, exc.filename)
    else:
        cause = str(exc) if isinstance(exc, (OSError, ValueError)) else f"{type(exc).__name__}: {exc}"
    failed = f"the model could not be saved to {output} ({cause})"
    if kept is None:
        return f"{failed}; nothing was saved before, so run the same command again to start over"
    if command.split()[:2] == ["scribe", "train"]:
        return f"{failed}; {kept} is kept. Continue with:\n  {resume_command(command)}"
    return (f"{failed}; {kept} is kept: continue with `scribe train` given the same files and settings, "
            f"`--output {output}` and `--resume`")


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

    def run() -> Finished:
        load_the_end("transformers")
        return Trainer(config, emit, cancel=cancel).run()

    return run_trainer(run, emit)


def run_trainer(run: Callable[[], Finished], emit: Callable[[Event], None]) -> int:
    """Call `run` (a trainer's run); errors become an `error` event. Returns the job's exit status."""
    try:
        finished = run()
    except (ValueError, OSError, EngineError) as exc:
        emit(Error(str(exc)))
        return 1
    except CancelledWhilePreparing:
        emit(Error(CANCELLED_WHILE_PREPARING))
        return EXIT_CANCELLED
    except StopNow:
        emit(Error(STOPPED_AT_ONCE))
        return EXIT_STOPPED_AT_ONCE
    return EXIT_CANCELLED if finished.reason == "interrupted" else 0


def job_main(argv: list[str] | None, module: str,
             run: Callable[[str, Callable[[Event], None], threading.Event], int]) -> int:
    """The body of a job process (`python -m MODULE CONFIG.json`): the event stream on stdout (stray prints go to
    stderr; on a rank other than 0 only its errors, see `RankEvents`), cancel handlers, then `run(config_path, emit,
    cancel)`, which returns the exit status. A job whose reader
    is gone stops as a first cancel does (SIGINT to itself: checkpoint and save, or at once during data preparation)
    and ends job.log with one line saying so and how to resume (`reader_gone_line`)."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print(f"usage: python -m {module} CONFIG.json", file=sys.stderr)
        return 2
    events = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray prints cannot corrupt the event stream
    cancel = threading.Event()

    def stop(reason: str) -> None:
        if not cancel.is_set():  # already stopping after a cancel: a second signal would drop the save
            os.kill(os.getpid(), signal.SIGINT)

    stream = EventStream(events, stop)
    main = int(os.environ.get("RANK", "0")) == 0
    if main:
        preparation = Preparation(stream.emit)
        install_cancel_handlers(cancel, lambda: preparation.preparing)
        emit = preparation.emit
    else:  # it never sees `started` (rank 0 reports it)
        install_cancel_handlers(cancel)
        emit = RankEvents(stream.emit).emit
    try:
        status = run(argv[0], emit, cancel)
    finally:
        stream.close()
        distributed.finish()
    if stream.gone is not None and main:  # rank 0 knows what the run left
        print(reader_gone_line(stream, status, _command(argv[0])), file=sys.stderr, flush=True)
    return status


def _command(config_path: str) -> str:
    """The command line recorded in a job's settings ("" when there is none)."""
    try:
        return json.loads(Path(config_path).read_text(encoding="utf-8")).get("command") or ""
    except (OSError, ValueError, AttributeError):
        return ""


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
