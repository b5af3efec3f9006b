"""Starting and following a training job from another process (the CLI or the TUI).

`TrainingJob(config).start()` writes the config to `<job dir>/job.json` and starts `python -m scribe.training.job` in
its own session (or, with `processes > 1`, the same module under `torch.distributed.run`, one process per rank).
`events()` yields the job's progress events as they arrive; when the process ends without a `finished` or `error`
event, a final Error carries the end of its log (`<job dir>/job.log`, which holds its stderr). `cancel()` asks it to
stop (checkpoint, then save); `kill()` ends it at once. torch.distributed.run starts each rank in a session of its own,
so both signal the ranks themselves (the launcher's children, read from /proc), not only the launcher's process group.
Importing this module imports neither torch nor transformers.
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
        self._errors: set[str] = set()
        """The messages of the errors read (every rank of a run may report the same one)."""

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
        """Start the child process (extra keyword arguments go to subprocess.Popen; without `env`, this process's
        environment less what scribe set for decoding only)."""
        from scribe.engine.threads import training_environment

        self.job_dir.mkdir(parents=True, exist_ok=True)
        config_path = self.job_dir / "job.json"
        config_path.write_text(self.config.to_json(), encoding="utf-8")
        with open(self.log_path, "w", encoding="utf-8") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own module with our own interpreter
                self.command(config_path), stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL, text=True,
                encoding="utf-8", bufsize=1, start_new_session=True,
                **{"env": training_environment(), **popen},
            )
        return self

    def events(self) -> Iterator[Event]:
        """Progress events until the process ends (lines that are not events are ignored; an error another rank
        reported already is read once). After an exception in the reader (a KeyboardInterrupt), calling events() again
        goes on where the last call stopped."""
        assert self.process is not None and self.process.stdout is not None, "start() first"
        for line in self.process.stdout:
            try:
                event = parse_event(line)
            except ValueError:
                continue
            if isinstance(event, Error):
                if event.message in self._errors:
                    continue
                self._errors.add(event.message)
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
        """Ask the job to stop after the current step; it writes a checkpoint and saves the model first. Under
        torch.distributed.run each rank gets the SIGINT itself: the launcher would forward it but SIGKILL any rank
        still saving 30 s later, and a second cancel would end the launcher alone."""
        if self.process is not None and self.process.poll() is None:
            self.cancelled = True
            ranks = children(self.process.pid) if self.processes > 1 else []
            for pid in ranks or [self.process.pid]:  # no rank yet (still starting): the launcher forwards it
                _signal(pid, signal.SIGINT)

    def kill(self) -> None:
        """End the job and all its processes at once (SIGKILL): only the last checkpoint survives. The launcher is
        frozen first, so that it starts no process while its tree is read."""
        if self.process is not None and self.process.poll() is None:
            _signal(self.process.pid, signal.SIGSTOP)
            for pid in descendants(self.process.pid):
                _signal(pid, signal.SIGKILL)
            os.killpg(self.process.pid, signal.SIGKILL)

    def wait(self, timeout: float | None = None) -> int:
        assert self.process is not None, "start() first"
        return self.process.wait(timeout)


def _parents() -> dict[int, list[int]]:
    """Each running process's children, by parent id, from /proc (empty where there is no /proc)."""
    tree: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text(encoding="ascii", errors="replace").rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):  # it ended while being read
            continue
        tree.setdefault(parent, []).append(int(stat.parent.name))
    return tree


def children(pid: int) -> list[int]:
    """The processes `pid` started that are still running."""
    return _parents().get(pid, [])


def descendants(pid: int) -> list[int]:
    """The processes under `pid`: its children, theirs, and so on."""
    tree = _parents()
    found: list[int] = []
    todo = [pid]
    while todo:
        below = tree.get(todo.pop(), [])
        found += below
        todo += below
    return found


def _signal(pid: int, signum: int) -> None:
    """Send `signum` to `pid` unless it has ended already."""
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass
