"""The Keras callbacks a training run passes to `model.fit`, sharing one `RunState`.

- `TrainingProgress` counts steps and tokens, reports a `Step` event every `log_every` batches (the mean loss of the
  batches since the previous report), turns each epoch's validation loss into an `Eval` event (perplexity, bits per
  character), and ends training after the batch in which the run is cancelled, reaches its step limit or its time
  budget; a loss that is no longer finite stops it with an error.
- `TextGenerator` (the tutorials' callback) generates one seeded sample per temperature at each epoch end, with
  scribe's own sampler, optionally with top-k and top-p.
- `FolderCheckpoint` adds the epoch's figures and samples to the run's history and saves the whole model folder.

Keras calls them in this order at each epoch end, after its own validation pass. Importing this module imports Keras.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from scribe.keras_models.architectures import Architecture, Preset
from scribe.keras_models.train_config import DEFAULT_TEMPERATURES
from scribe.keras_models.env import import_keras
from scribe.keras_models.vocab import Vocab
from scribe.training.events import Eval, Event, Sample, Step

keras: Any = import_keras()

"""The temperatures the Keras tutorials' TextGenerator samples at."""


@dataclass
class RunState:
    """Where a run stands (what the card, the metadata and the history are written from)."""

    step: int = 0
    tokens: int = 0
    elapsed_s: float = 0.0
    train_loss: float | None = None
    """Mean loss of the batches in the last Step report."""
    epoch_loss: float | None = None
    """Mean training loss of the last epoch's batches."""
    val: Eval | None = None
    samples: list[Sample] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    """One record per evaluated epoch (`scribe.training.curves`)."""
    reason: str = "max_steps"
    """Why training ended: max_steps, max_minutes or interrupted."""
    saved_step: int = -1
    """The step of the folder last saved."""


class TrainingProgress(keras.callbacks.Callback):
    """Steps, Step and Eval events, and the stopping rules (see the module docstring)."""

    def __init__(self, state: RunState, emit: Callable[[Event], None], cancel: threading.Event, *, max_steps: int,
                 log_every: int, budget_s: float | None, tokens_per_step: int, val_tokens: int,
                 val_chars: int) -> None:
        super().__init__()
        self.state, self.emit, self.cancel = state, emit, cancel
        self.max_steps, self.log_every, self.budget_s = max_steps, log_every, budget_s
        self.tokens_per_step, self.val_tokens, self.val_chars = tokens_per_step, val_tokens, val_chars
        self._start = self._batch_start = 0.0
        self._epoch_total = 0.0
        self._epoch_steps = self._window_steps = 0
        self._window_loss = self._window_time = 0.0

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._start = time.monotonic() - self.state.elapsed_s

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch_total, self._epoch_steps = 0.0, 0

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        self._batch_start = time.monotonic()

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        st = self.state
        now = time.monotonic()
        self._epoch_steps += 1
        total = float((logs or {})["loss"]) * self._epoch_steps  # Keras reports the mean since the epoch began
        loss, self._epoch_total = total - self._epoch_total, total
        if not math.isfinite(loss):
            raise ValueError(f"the loss became {loss} at step {st.step + 1}; try a lower --lr")
        st.step += 1
        st.tokens += self.tokens_per_step
        st.elapsed_s = now - self._start
        self._window_loss += loss
        self._window_steps += 1
        self._window_time += now - self._batch_start
        if st.step % self.log_every == 0 or st.step >= self.max_steps:
            self._report()
        if self.cancel.is_set():
            self._stop("interrupted")
        elif st.step >= self.max_steps:
            self._stop("max_steps")
        elif self.budget_s is not None and st.elapsed_s >= self.budget_s:
            self._stop("max_minutes")

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        st = self.state
        st.elapsed_s = time.monotonic() - self._start
        if self._epoch_steps:
            st.epoch_loss = round(self._epoch_total / self._epoch_steps, 4)
        if logs is None or "val_loss" not in logs:  # fit without validation data
            return
        val_loss = float(logs["val_loss"])
        st.val = Eval(step=st.step, val_loss=round(val_loss, 4), perplexity=round(math.exp(min(val_loss, 700)), 2),
                      bits_per_char=round(val_loss * self.val_tokens / max(self.val_chars, 1) / math.log(2), 4))
        self.emit(st.val)

    def on_train_end(self, logs: dict | None = None) -> None:
        self.state.elapsed_s = time.monotonic() - self._start
        if self._window_steps:  # the steps since the last report
            self._report()

    def _stop(self, reason: str) -> None:
        self.state.reason = reason
        self.model.stop_training = True

    def _report(self) -> None:
        st = self.state
        st.train_loss = round(self._window_loss / self._window_steps, 4)
        rate = self._window_steps * self.tokens_per_step / max(self._window_time, 1e-9)
        eta = (self.max_steps - st.step) * self.tokens_per_step / max(rate, 1e-9)
        if self.budget_s is not None:
            eta = min(eta, max(0.0, self.budget_s - st.elapsed_s))
        lr = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        self.emit(Step(st.step, st.train_loss, lr, round(rate, 1), round(st.elapsed_s, 1), round(eta, 1)))
        self._window_loss, self._window_steps, self._window_time = 0.0, 0, 0.0


class TextGenerator(keras.callbacks.Callback):
    """At each epoch end, one sample of `max_tokens` tokens from `prompt` per temperature, seeded with `seed` (so the
    epochs' samples differ only by what the model learned), with top-k / top-p when given (0 / 1.0: off)."""

    def __init__(self, state: RunState, emit: Callable[[Event], None], vocab: Vocab, arch: Architecture,
                 shape: Preset, *, prompt: str, temperatures: Sequence[float] = DEFAULT_TEMPERATURES,
                 max_tokens: int = 60, seed: int = 0, top_k: int = 0, top_p: float = 1.0) -> None:
        super().__init__()
        self.state, self.emit, self.vocab, self.arch, self.shape = state, emit, vocab, arch, shape
        self.prompt, self.temperatures, self.max_tokens = prompt, tuple(temperatures), max_tokens
        self.seed, self.top_k, self.top_p = seed, top_k, top_p

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        from scribe.keras_models.runtime import KerasGenerator
        from scribe.sampling.params import SamplingParams
        from scribe.types import StreamEnd

        generator = KerasGenerator(self.model, self.vocab, self.arch, self.shape)
        self.state.samples = []
        for temperature in self.temperatures:
            params = SamplingParams(temperature=temperature, top_k=self.top_k, top_p=self.top_p, seed=self.seed,
                                    max_new_tokens=self.max_tokens)
            end = list(generator.stream(self.prompt, params, alternatives=0))[-1]
            assert isinstance(end, StreamEnd)
            if end.error:
                raise ValueError(f"sampling at temperature {temperature:g} failed: {end.error}")
            sample = Sample(step=self.state.step, temperature=temperature, prompt=self.prompt, text=end.text)
            self.state.samples.append(sample)
            self.emit(sample)


class FolderCheckpoint(keras.callbacks.Callback):
    """At each epoch end, the epoch's record (step, losses, perplexity, bits per character, samples) joins the
    history, then `save()` writes the model folder."""

    def __init__(self, state: RunState, save: Callable[[], None], *, top_k: int = 0, top_p: float = 1.0) -> None:
        super().__init__()
        self.state, self.save, self.top_k, self.top_p = state, save, top_k, top_p

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        st = self.state
        if st.val is not None and st.val.step == st.step and (not st.history or st.history[-1]["step"] != st.step):
            st.history.append({
                "epoch": len(st.history) + 1, "step": st.step, "tokens": st.tokens,
                "elapsed_s": round(st.elapsed_s, 1), "train_loss": st.epoch_loss, "val_loss": st.val.val_loss,
                "perplexity": st.val.perplexity, "bits_per_char": st.val.bits_per_char,
                "samples": [{"temperature": s.temperature, "top_k": self.top_k, "top_p": self.top_p,
                             "prompt": s.prompt, "text": s.text} for s in st.samples if s.step == st.step],
            })
        self.save()
