"""The settings of a Keras training run (no heavy imports, so the CLI and the TUI can build one)."""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path

from scribe.keras_models.architectures import Preset, preset


DEFAULT_TEMPERATURES = (0.2, 0.5, 0.7, 1.0, 1.5)
"""The temperatures of the samples written after each evaluation, as in the Keras text-generation tutorials."""


@dataclass
class KerasTrainConfig:
    """Everything a Keras training run needs; None means the preset's value."""

    data: list[str]
    output: Path
    arch: str = "char-lstm"
    preset: str = "small"
    sequence_length: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    max_steps: int = 5000
    max_minutes: float | None = None
    eval_every: int | None = None
    """Evaluate, sample and save every this many steps (None: once per epoch)."""
    eval_tokens: int = 65_536
    val_fraction: float = 0.05
    log_every: int = 10
    seed: int = 0
    threads: int | None = None
    strip_gutenberg: bool = True
    join_lines: bool = True
    """Join hard-wrapped prose lines into paragraphs (`scribe.training.corpus.unwrap`)."""
    resume: bool = False
    """Continue from the model folder at `output` (its weights, optimizer state and step)."""
    sample_prompt: str = "It was"
    sample_temperatures: tuple[float, ...] = DEFAULT_TEMPERATURES
    """The temperatures the TextGenerator callback samples at after each evaluation (the tutorials' set)."""
    sample_top_k: int = 0
    """Top-k of those samples (0: off)."""
    sample_top_p: float = 1.0
    """Top-p of those samples (1.0: off)."""
    sample_tokens: int = 60
    command: str = ""
    name: str = ""
    job_dir: Path | None = None
    """The job's settings and log when it runs as a job process (default: <data dir>/jobs/<output name>)."""

    def __post_init__(self) -> None:
        self.output = Path(self.output).expanduser()
        self.name = self.name or self.output.name
        self.sample_temperatures = tuple(self.sample_temperatures)
        if self.job_dir is None:
            from scribe.config import Paths

            self.job_dir = Paths.discover().data / "jobs" / self.output.name
        self.job_dir = Path(self.job_dir).expanduser()
        base = preset(self.arch, self.preset)
        self.shape = Preset(**{**base.to_dict(), **{k: v for k, v in (
            ("sequence_length", self.sequence_length), ("batch_size", self.batch_size), ("lr", self.lr)) if v is not None}})
        for name in ("max_steps", "log_every", "eval_tokens"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if self.shape.sequence_length < 2 or self.shape.batch_size < 1 or self.shape.lr <= 0:
            raise ValueError("context must be at least 2, batch size at least 1 and the learning rate positive")
        if self.eval_every is not None and self.eval_every < 1:
            raise ValueError(f"eval-every must be at least 1, got {self.eval_every}")
        if not 0 < self.val_fraction < 0.5:
            raise ValueError(f"val fraction must be between 0 and 0.5, got {self.val_fraction}")

    def to_json(self) -> str:
        """The settings as JSON (for the job process)."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        return json.dumps({k: str(v) if isinstance(v, Path) else v for k, v in data.items()}, indent=1)

    @classmethod
    def from_json(cls, text: str) -> "KerasTrainConfig":
        return cls(**json.loads(text))
