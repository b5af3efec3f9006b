"""A Keras training run as its own process: `python -m scribe.keras_models.job CONFIG.json`, the Keras counterpart of
`scribe.training.job` with the same contract, so the train command and the TUI follow both alike.

The config file holds a `KerasTrainConfig` as JSON. Progress events go to stdout as JSON lines; TensorFlow's output and
anything else printed goes to stderr (the job log). The first SIGINT or SIGTERM asks the run to stop after the current
step and save; a second one stops at once. Exit status: 0 when training finished, 130 when cancelled, 1 on an error
(reported as an `error` event). `KerasTrainingJob` starts and follows such a process; importing this module imports
neither TensorFlow nor torch.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from pathlib import Path

from scribe.training.events import Event, Finished
from scribe.training.job import job_main, load_the_end, run_trainer
from scribe.training.jobs import TrainingJob


class KerasTrainingJob(TrainingJob):
    """A `TrainingJob` (start, events, cancel, kill) whose process runs the Keras trainer."""

    def command(self, config_path: Path) -> list[str]:
        return [self.python, "-m", "scribe.keras_models.job", str(config_path)]


def _run_file(config_path: str, emit: Callable[[Event], None], cancel: threading.Event) -> int:
    def run() -> Finished:
        from scribe.keras_models.train_config import KerasTrainConfig
        from scribe.keras_models.trainer import KerasTrainer

        config = KerasTrainConfig.from_json(Path(config_path).read_text(encoding="utf-8"))
        load_the_end("keras")
        return KerasTrainer(config, emit, cancel=cancel).run()

    return run_trainer(run, emit)


def main(argv: list[str] | None = None) -> int:
    return job_main(argv, "scribe.keras_models.job", _run_file)


if __name__ == "__main__":
    sys.exit(main())
