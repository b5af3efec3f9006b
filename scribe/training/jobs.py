"""Starting and following a training job from another process (the CLI or the TUI).

`TrainingJob(config).start()` writes the config to `<job dir>/job.json` and starts `python -m scribe.training.job` in
its own session (or, with `processes > 1`, the same module under `torch.distributed.run`, one process per rank).
`events()` yields the job's progress events as they arrive; when the process ends without a `finished` or `error`
event, a final Error carries the end of its log (`<job dir>/job.log`, which holds its stderr). `cancel()` asks it to
stop (checkpoint, then save); `kill()` ends it at once. Importing this module imports neither torch nor transformers.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from scribe.training.events import Error, Event, Finished, parse_event


class TrainingJob:
    """One training run in a child process."""

    def __init__(self, config, *, processes: int = 1, python: str = sys.executable) -> None:  # noqa: ANN001
        self.config = config
        self.processes = processes
        self.python = python
        self.process: subprocess.Popen[str] | None = None
        self.job_dir: Path = config.job_dir
        self.ended = False
        """True once a `finished` or `error` event has been read."""
        self.cancelled = False
        """True once `cancel` asked the job to stop."""

    @property
    def log_path(self) -> Path:
        return self.job_dir / "job.log"

    def command(self, config_path: Path) -> list[str]:
        """The child's command line."""
        module = ["-m", "scribe.training.job", str(config_path)]
        if self.processes > 1:
            return [self.python, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={self.processes}",
                    *module]
        return [self.python, *module]

    def start(self, **popen: object) -> "TrainingJob":
        """Start the child process (extra keyword arguments go to subprocess.Popen)."""
        self.job_dir.mkdir(parents=True, exist_ok=True)
        config_path = self.job_dir / "job.json"
        config_path.write_text(self.config.to_json(), encoding="utf-8")
        with open(self.log_path, "w", encoding="utf-8") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own module with our own interpreter
                self.command(config_path), stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL, text=True,
                encoding="utf-8", bufsize=1, start_new_session=True, **popen,
            )
        return self

    def events(self) -> Iterator[Event]:
        """Progress events until the process ends (lines that are not events are ignored). After an exception in the
        reader (a KeyboardInterrupt), calling events() again goes on where the last call stopped."""
        assert self.process is not None and self.process.stdout is not None, "start() first"
        for line in self.process.stdout:
            try:
                event = parse_event(line)
            except ValueError:
                continue
            self.ended = self.ended or isinstance(event, (Finished, Error))
            yield event
        status = self.process.wait()
        if not self.ended:
            self.ended = True
            if self.cancelled:  # asked to stop while still starting (loading, preparing the data): not a failure
                yield Finished(reason="interrupted", steps=0, tokens=0, elapsed_s=0.0, val_loss=None, perplexity=None,
                               bits_per_char=None, path="")
            else:
                yield Error(self._died(status))

    def _died(self, status: int) -> str:
        how = f"was killed by signal {-status}" if status < 0 else f"exited with status {status}"
        try:
            tail = [line for line in self.log_path.read_text(encoding="utf-8", errors="replace").splitlines() if line]
        except OSError:
            tail = []
        detail = f": {tail[-1]}" if tail else ""
        return f"the training process {how} before finishing{detail} (log: {self.log_path})"

    def cancel(self) -> None:
        """Ask the job to stop after the current step; it writes a checkpoint and saves the model first."""
        if self.process is not None and self.process.poll() is None:
            self.cancelled = True
            self.process.send_signal(signal.SIGINT)

    def kill(self) -> None:
        """End the job and all its processes at once (SIGKILL): only the last checkpoint survives."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)

    def wait(self, timeout: float | None = None) -> int:
        assert self.process is not None, "start() first"
        return self.process.wait(timeout)
