"""A Keras training run as its own process: `python -m scribe.keras_models.job CONFIG.json`, the Keras counterpart of
`scribe.training.job` with the same contract, so the train command and the TUI follow both alike.

The config file holds a `KerasTrainConfig` as JSON. Progress events go to stdout as JSON lines; TensorFlow's output and
anything else printed goes to stderr (the job log). The first SIGINT or SIGTERM asks the run to stop after the current
step and save; a second one stops at once. Exit status: 0 when training finished, 130 when cancelled, 1 on an error
(reported as an `error` event). `KerasTrainingJob` starts and follows such a process; importing this module imports
neither TensorFlow nor torch.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

from scribe.engine.base import EngineError
from scribe.training.events import Error
from scribe.training.job import event_writer, install_cancel_handlers
from scribe.training.jobs import TrainingJob


class KerasTrainingJob(TrainingJob):
    """A `TrainingJob` (start, events, cancel, kill) whose process runs the Keras trainer."""

    def command(self, config_path: Path) -> list[str]:
        return [self.python, "-m", "scribe.keras_models.job", str(config_path)]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m scribe.keras_models.job CONFIG.json", file=sys.stderr)
        return 2
    events = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray prints cannot corrupt the event stream
    emit = event_writer(events)
    cancel = threading.Event()
    install_cancel_handlers(cancel)
    try:
        from scribe.keras_models.train_config import KerasTrainConfig
        from scribe.keras_models.trainer import KerasTrainer

        config = KerasTrainConfig.from_json(Path(argv[0]).read_text(encoding="utf-8"))
        finished = KerasTrainer(config, emit, cancel=cancel).run()
    except (ValueError, OSError, EngineError) as exc:
        emit(Error(str(exc)))
        return 1
    except KeyboardInterrupt:
        emit(Error("stopped at once (second interrupt)"))
        return 130
    return 130 if finished.reason == "interrupted" else 0


if __name__ == "__main__":
    sys.exit(main())
