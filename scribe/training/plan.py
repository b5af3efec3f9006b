"""A training run's complete settings from the writer's choices: the one place that picks the trainer and fills in the
defaults, for `scribe train` and the TUI's training screen alike.

The rule that picks the trainer (`trainer_for`): a Keras architecture (named by `--arch`, or in the base-model field as
`mini-gpt` or `char-lstm:tiny`) trains that Keras model from scratch; otherwise LoRA when asked (it needs a base model),
full fine-tuning when a base model is named, and a GPT-2-architecture model from scratch when none is. Each face turns
its input into `TrainingChoices`; `plan_training` returns the `TrainingPlan`: the trainer, its config (a `TrainConfig`
or a `KerasTrainConfig`) and the job that runs it. A from-scratch preset's implied settings (`PRESET_SETTINGS`, e.g.
`char`'s context 64 and batch 12) fill in what the writer left unset. Importing this module imports neither torch
nor TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scribe.config import Paths
from scribe.store.names import check_model_name

if TYPE_CHECKING:
    from scribe.keras_models.train_config import KerasTrainConfig
    from scribe.training.jobs import TrainingJob
    from scribe.training.trainer import TrainConfig

TRAINERS = ("scratch", "finetune", "lora", "keras")
"""What `trainer_for` picks: GPT-2 from scratch, full fine-tuning, LoRA (the transformers trainer's modes), or Keras."""
GPT2_ARCH = "gpt2"
"""The from-scratch architecture of the transformers trainer (`--arch`'s default)."""
DEFAULT_MAX_STEPS = 1000
MAX_EVAL_EVERY = 250
"""Evaluations come every quarter of the steps, at most every this many steps (`eval_every`)."""
GPT2_ONLY = ("tokenizer", "vocab_size", "grad_accum", "warmup", "dropout", "checkpoint_every", "patience", "device",
             "max_memory_gb", "precision", "lora_r", "lora_alpha", "holdout", "extend_context")
"""Choices that mean something to the transformers trainer only: a Keras run refuses them when they are set."""


@dataclass
class TrainingChoices:
    """What the writer chose, from `scribe train`'s flags or the training screen's form. None (or empty) leaves a
    setting to the plan: the default of the trainer it picks."""

    files: list[str]
    """Text files, folders or glob patterns."""
    name: str | None = None
    """The model's name (default: the first file's stem, with -tuned or -lora when fine-tuning)."""
    output: Path | None = None
    """The model folder (default: <models dir>/<name>)."""
    base: str | None = None
    """A model to fine-tune, or a Keras architecture to train from scratch (`mini-gpt`, `char-lstm:tiny`)."""
    arch: str = GPT2_ARCH
    """The from-scratch architecture: gpt2 or a Keras one."""
    preset: str | None = None
    lora: bool = False
    tokenizer: str | None = None
    vocab_size: int | None = None
    context: int | None = None
    """Tokens per training block (a Keras model's sequence length)."""
    batch_size: int | None = None
    grad_accum: int | None = None
    lr: float | None = None
    warmup: int | None = None
    dropout: float | None = None
    max_steps: int | None = None
    max_minutes: float | None = None
    eval_every: int | None = None
    checkpoint_every: int | None = None
    patience: int | None = None
    val_fraction: float | None = None
    seed: int | None = None
    threads: int | None = None
    device: str | None = None
    max_memory_gb: float | None = None
    precision: str | None = None
    """auto, float32 or bfloat16 (`scribe.training.precision`)."""
    strip_gutenberg: bool = True
    join_lines: bool = True
    holdout: list[str] = field(default_factory=list)
    extend_context: bool = False
    lora_r: int | None = None
    lora_alpha: int | None = None
    resume: bool = False
    processes: int = 1
    command: str = ""
    """The command line that started the run (for the model card and `--resume`)."""
    settings: dict[str, Any] = field(default_factory=dict)
    """Further fields of the trainer's config, by name, passed as they are (e.g. sample_tokens)."""


@dataclass
class TrainingPlan:
    """A run ready to start: which trainer, its complete config, and how many processes."""

    trainer: str
    """One of TRAINERS."""
    config: "TrainConfig | KerasTrainConfig"
    processes: int = 1

    def job(self) -> "TrainingJob":
        """The job that runs this plan in its own process (not started yet)."""
        if self.trainer == "keras":
            from scribe.keras_models.job import KerasTrainingJob

            return KerasTrainingJob(self.config, processes=self.processes)
        from scribe.training.jobs import TrainingJob

        return TrainingJob(self.config, processes=self.processes)


def keras_architecture(model: str | None) -> tuple[str, str | None] | None:
    """(architecture, preset or None) when `model` names a Keras architecture, optionally with a preset
    (`mini-gpt:tiny`); None for anything else (a base model's name or folder)."""
    from scribe.keras_models.architectures import ARCHITECTURES

    arch, _, preset = (model or "").partition(":")
    return (arch, preset or None) if arch in ARCHITECTURES else None


def trainer_for(choices: TrainingChoices) -> str:
    """The one rule that picks the trainer (one of TRAINERS); ValueError for choices that contradict each other."""
    named = keras_architecture(choices.base)
    if choices.arch != GPT2_ARCH or named is not None:
        if named is None and choices.base:
            raise ValueError(f"a base model ({choices.base}) is fine-tuned by the transformers trainer; the Keras "
                             f"architecture {choices.arch} trains from scratch (leave out one of the two)")
        if named is not None and choices.arch not in (GPT2_ARCH, named[0]):
            raise ValueError(f"two architectures named: {choices.arch} and {named[0]}; choose one")
        if choices.lora:
            raise ValueError("LoRA adapts a transformers base model; Keras architectures train from scratch")
        return "keras"
    if choices.lora:
        if not choices.base:
            raise ValueError("LoRA needs a base model: name the model to adapt")
        return "lora"
    return "finetune" if choices.base else "scratch"


def default_name(files: list[str], trainer: str) -> str:
    """The model's name when the writer gives none: the first file's stem, with -tuned or -lora when fine-tuning."""
    stem = Path(files[0].rstrip("/\\")).stem or "model"
    return stem + {"finetune": "-tuned", "lora": "-lora"}.get(trainer, "")


def default_eval_every(max_steps: int) -> int:
    """Evaluate (and sample, and by default checkpoint) every quarter of the run, at most every MAX_EVAL_EVERY steps."""
    return max(1, min(MAX_EVAL_EVERY, max_steps // 4))


def plan_training(choices: TrainingChoices) -> TrainingPlan:
    """The complete settings of the run the writer chose (ValueError, one line, for choices that do not make sense)."""
    if not choices.files:
        raise ValueError("name the text files to train on")
    trainer = trainer_for(choices)
    if choices.output is None:
        name = check_model_name(choices.name or default_name(choices.files, trainer))
        output = Paths.discover().models / name
    else:
        output = Path(choices.output).expanduser()
        name = check_model_name(choices.name) if choices.name else output.name
    max_steps = DEFAULT_MAX_STEPS if choices.max_steps is None else choices.max_steps
    common: dict[str, Any] = {
        "data": list(choices.files), "output": output, "name": name, "max_steps": max_steps,
        "eval_every": default_eval_every(max_steps) if choices.eval_every is None else choices.eval_every,
        "batch_size": choices.batch_size, "lr": choices.lr, "max_minutes": choices.max_minutes,
        "val_fraction": choices.val_fraction, "seed": choices.seed, "threads": choices.threads,
        "strip_gutenberg": choices.strip_gutenberg, "join_lines": choices.join_lines, "resume": choices.resume,
        "command": choices.command,
    }
    if trainer == "keras":
        return TrainingPlan(trainer, _keras_config(choices, common))
    from scribe.training.trainer import PRESET_SETTINGS, TrainConfig

    preset = choices.preset if trainer == "scratch" else None  # a fine-tuned model keeps its base's shape
    implied = PRESET_SETTINGS.get(preset or "", {})
    values = {
        **common, "mode": trainer, "base": choices.base, "tokenizer": choices.tokenizer,
        "vocab_size": choices.vocab_size, "context": choices.context, "grad_accum": choices.grad_accum,
        "dropout": choices.dropout, "checkpoint_every": choices.checkpoint_every, "patience": choices.patience,
        "device": choices.device, "max_memory_gb": choices.max_memory_gb, "precision": choices.precision,
        "holdout": list(choices.holdout), "extend_context": choices.extend_context, "lora_r": choices.lora_r,
        "lora_alpha": choices.lora_alpha, "preset": preset,
    }
    config = TrainConfig(**{"warmup_steps": choices.warmup, **implied, **_set(values), **choices.settings})
    return TrainingPlan(trainer, config, processes=choices.processes)


def _keras_config(choices: TrainingChoices, common: dict[str, Any]) -> "KerasTrainConfig":
    from dataclasses import fields

    from scribe.keras_models.train_config import KerasTrainConfig

    named = [name.replace("_", "-") for name in GPT2_ONLY if getattr(choices, name) not in (None, False, [])]
    if choices.processes != 1:
        named.append("processes")
    if named:
        raise ValueError(f"{', '.join(named)}: for the GPT-2 trainer only; Keras models train from scratch in one "
                         "process with their preset's settings")
    known = {f.name for f in fields(KerasTrainConfig)}
    if unknown := sorted(set(choices.settings) - known):
        raise ValueError(f"{', '.join(unknown)}: not a setting of a Keras run")
    arch, preset = keras_architecture(choices.base) or (choices.arch, None)
    values = {**common, "arch": arch, "preset": preset or choices.preset, "sequence_length": choices.context}
    return KerasTrainConfig(**{**_set(values), **choices.settings})


def _set(values: dict[str, Any]) -> dict[str, Any]:
    """The values that were chosen (None leaves the config's default)."""
    return {key: value for key, value in values.items() if value is not None}
