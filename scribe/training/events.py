"""Training progress events: small dataclasses that travel as JSON lines from a training job to whoever shows it.

Each event serialises as one JSON object with an `"event"` key naming its kind (`started`, `step`, `eval`, `sample`,
`saved`, `checkpoint`, `finished`, `error`, `preparing`); `parse_event` turns such a line back into the dataclass.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True)
class Event:
    """Base of all progress events."""

    kind: ClassVar[str] = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain values, with the event kind under `"event"`."""
        return {"event": self.kind, **dataclasses.asdict(self)}

    def to_json(self) -> str:
        """One line of JSON."""
        return json.dumps(self.to_dict(), ensure_ascii=False)


@dataclass(frozen=True)
class Started(Event):
    """Training began: what is trained on what."""

    kind: ClassVar[str] = "started"
    output: str
    preset: str
    parameters: int
    vocab_size: int
    context: int
    batch_size: int
    documents: int
    train_tokens: int
    val_tokens: int
    max_steps: int
    max_minutes: float | None
    skipped: list[list[str]] = field(default_factory=list)
    """[path, reason] for each file left out of the corpus."""
    mode: str = "scratch"
    """scratch, finetune or lora."""
    base: str | None = None
    """The model fine-tuned (None when training from scratch)."""
    resumed_from: int = 0
    """The checkpoint step this run continues from (0: a fresh start)."""
    processes: int = 1
    """Training processes (data-parallel ranks)."""
    cached_documents: int = 0
    """Documents whose tokens came from the token cache."""
    micro_batches: int = 1
    """Micro-batches each step is split into (the writer's --grad-accum, or more to fit in memory)."""
    memory_returned: bool = False
    """Freed memory goes straight back to the system so that a step fits (`allocator.return_freed_memory_at_once`:
    slower steps)."""
    bfloat16: bool = False
    """The products run in bfloat16 under autocast, a LoRA base loaded in bfloat16 (`scribe.training.precision`)."""

    def how_steps_run(self) -> str:
        """How each step runs, as the progress lines say it: its arithmetic when bfloat16, and how it fits in memory
        ("" for one plain float32 batch)."""
        parts = ["bfloat16 arithmetic"] if self.bfloat16 else []
        if self.micro_batches > 1:
            parts.append(f"each step in {self.micro_batches} micro-batches")
        if self.memory_returned:
            parts.append("freed memory given straight back to fit (slower steps)")
        return ", ".join(parts)


@dataclass(frozen=True)
class Step(Event):
    """Training progress; `loss` is the mean over the steps since the previous Step event."""

    kind: ClassVar[str] = "step"
    step: int
    loss: float
    lr: float
    tokens_per_s: float
    elapsed_s: float
    eta_s: float


@dataclass(frozen=True)
class Eval(Event):
    """Validation metrics: mean loss in nats per token, its perplexity, and bits per character of the text."""

    kind: ClassVar[str] = "eval"
    step: int
    val_loss: float
    perplexity: float
    bits_per_char: float


@dataclass(frozen=True)
class Sample(Event):
    """Text the model generated from `prompt` at `temperature` (seeded, so reruns match)."""

    kind: ClassVar[str] = "sample"
    step: int
    temperature: float
    prompt: str
    text: str


@dataclass(frozen=True)
class Saved(Event):
    """A complete model folder is in place at `path`."""

    kind: ClassVar[str] = "saved"
    step: int
    path: str


@dataclass(frozen=True)
class Checkpoint(Event):
    """A resumable checkpoint (weights, optimiser, schedule, data position, RNG state) is in place at `path`."""

    kind: ClassVar[str] = "checkpoint"
    step: int
    path: str


@dataclass(frozen=True)
class Finished(Event):
    """Training ended; `reason` is `max_steps`, `max_minutes`, `early_stop` or `interrupted`."""

    kind: ClassVar[str] = "finished"
    reason: str
    steps: int
    tokens: int
    elapsed_s: float
    val_loss: float | None
    perplexity: float | None
    bits_per_char: float | None
    path: str
    base_val_loss: float | None = None
    """Validation loss of the base model before fine-tuning (None when training from scratch)."""
    base_perplexity: float | None = None


@dataclass(frozen=True)
class Error(Event):
    """Training failed."""

    kind: ClassVar[str] = "error"
    message: str


@dataclass(frozen=True)
class Preparing(Event):
    """Data preparation (reading, tokenising) is still going on: sent every few seconds until `started`."""

    kind: ClassVar[str] = "preparing"
    stage: str
    elapsed_s: float


EVENT_TYPES: dict[str, type[Event]] = {
    cls.kind: cls for cls in (Started, Step, Eval, Sample, Saved, Checkpoint, Finished, Error, Preparing)}


def parse_event(line: str) -> Event:
    """The event a `to_json()` line describes. Raises ValueError for anything else."""
    try:
        data = json.loads(line)
        cls = EVENT_TYPES[data.pop("event")]
        return cls(**data)
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"not a training event: {line[:80]!r} ({exc})") from None
