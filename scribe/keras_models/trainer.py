"""Training a Keras model from scratch on the writer's corpus, reporting `scribe.training.events`.

The corpus is read with `scribe.training.corpus` and split like the GPT-2 trainer does (whole documents held out).
Each step trains on a batch of random windows drawn from a generator seeded with (seed, step), so a resumed run sees
the same data as an uninterrupted one. Every `eval_every` steps (by default one epoch: as many windows as the training
text holds) it measures the validation loss, generates a sample at each of `sample_temperatures` with scribe's own
sampler, and saves the whole folder (`saved.py`), optimizer state included, so the run can resume from it.
Setting `cancel` (the job process does on SIGINT/SIGTERM) or Ctrl-C (KeyboardInterrupt) stops early and still saves.
"""

from __future__ import annotations

import math
import platform
import threading
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from scribe.keras_models.architectures import architecture, build_model
from scribe.keras_models.card import write_card
from scribe.keras_models.env import import_keras
from scribe.keras_models.saved import MODEL_FILE, load_folder, read_meta, save_folder
from scribe.keras_models.train_config import KerasTrainConfig
from scribe.keras_models.vocab import Vocab, char_vocab, word_vocab
from scribe.sampling.params import SamplingParams
from scribe.training.corpus import read_corpus
from scribe.training.dataset import split_corpus
from scribe.training.events import Checkpoint, Eval, Event, Finished, Sample, Saved, Started, Step

keras = import_keras()


def hardware() -> str:
    """CPU model and library versions, for the model card."""
    import tensorflow as tf

    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, TensorFlow {tf.__version__}, Keras {keras.__version__}"


class KerasTrainer:
    """Runs one training; `run()` emits events through `emit` and returns the Finished event."""

    def __init__(self, config: KerasTrainConfig, emit: Callable[[Event], None] = lambda event: None, *,
                 cancel: threading.Event | None = None) -> None:
        self.config = config
        self.emit = emit
        self.cancel = cancel or threading.Event()
        """Set it to stop after the current step (then evaluate, sample and save, as at the end)."""
        self.step = self.tokens = 0
        self.elapsed_s = 0.0
        self.train_loss: float | None = None
        self.val: Eval | None = None
        self.samples: list[Sample] = []

    def run(self) -> Finished:
        """Read, tokenise, build (or resume), train, evaluate, sample and save."""
        cfg = self.config
        if cfg.threads:
            import tensorflow as tf

            tf.config.threading.set_intra_op_parallelism_threads(cfg.threads)
        keras.utils.set_random_seed(cfg.seed)
        corpus = read_corpus(cfg.data, strip_gutenberg=cfg.strip_gutenberg, join_lines=cfg.join_lines)
        train_docs, val_docs = split_corpus(corpus.documents, cfg.val_fraction, cfg.seed)
        arch, shape = architecture(cfg.arch), cfg.shape
        resumed = self._resume() if cfg.resume else None
        if resumed is not None:
            model, vocab = resumed
        else:
            texts = [d.text for d in corpus.documents]
            vocab = char_vocab(texts) if arch.tokens == "char" else word_vocab([d.text for d in train_docs], shape.max_tokens)
            model = build_model(cfg.arch, shape, len(vocab))
        train_ids = np.asarray([i for d in train_docs for i in vocab.encode(d.text)], dtype=np.int32)
        val_ids = np.asarray([i for d in val_docs for i in vocab.encode(d.text)], dtype=np.int32)[: cfg.eval_tokens + 1]
        unit = "characters" if arch.tokens == "char" else "words"
        if len(train_ids) < shape.sequence_length + 2 or len(val_ids) < 2:
            raise ValueError(
                f"corpus too short: {len(train_ids):,} training {unit} and {len(val_ids):,} held out for a sequence "
                f"length of {shape.sequence_length:,}; give more text or a smaller --context")
        self.corpus, self.vocab, self.model = corpus, vocab, model
        self.train_tokens, self.val_tokens = len(train_ids), len(val_ids)
        self.eval_every = cfg.eval_every or max(1, len(train_ids) // (shape.sequence_length * shape.batch_size))
        self.emit(Started(
            output=str(cfg.output), preset=f"{cfg.arch}-{cfg.preset}", parameters=int(model.count_params()),
            vocab_size=len(vocab), context=shape.sequence_length, batch_size=shape.batch_size,
            documents=len(corpus.documents), train_tokens=len(train_ids), val_tokens=len(val_ids),
            max_steps=cfg.max_steps, max_minutes=cfg.max_minutes,
            skipped=[[str(s.path), s.reason] for s in corpus.skipped], resumed_from=self.step,
        ))
        reason = self._train(train_ids, val_ids)
        val = self.val
        finished = Finished(
            reason=reason, steps=self.step, tokens=self.tokens, elapsed_s=round(self.elapsed_s, 1),
            val_loss=val.val_loss if val else None, perplexity=val.perplexity if val else None,
            bits_per_char=val.bits_per_char if val else None, path=str(cfg.output),
        )
        self.emit(finished)
        return finished

    def _resume(self) -> tuple[Any, Vocab] | None:
        """The model and vocabulary saved at the output folder, with the progress they reached (None: nothing there)."""
        cfg = self.config
        if not (cfg.output / MODEL_FILE).is_file():
            return None
        meta = read_meta(cfg.output)
        if meta["architecture"] != cfg.arch:
            raise ValueError(f"{cfg.output} holds a {meta['architecture']} model, not {cfg.arch}; cannot resume it")
        loaded = load_folder(cfg.output)
        self.config.shape = loaded.shape
        progress = meta.get("progress", {})
        self.step, self.tokens = int(progress.get("step", 0)), int(progress.get("tokens", 0))
        self.elapsed_s = float(progress.get("elapsed_s", 0.0))
        return loaded.model, loaded.vocab

    def _train(self, train_ids: np.ndarray, val_ids: np.ndarray) -> str:
        cfg, shape, model = self.config, self.config.shape, self.model
        length, batch = shape.sequence_length, shape.batch_size
        budget_s = cfg.max_minutes * 60 if cfg.max_minutes else None
        offsets = np.arange(length + 1)
        start = time.monotonic() - self.elapsed_s
        window_loss, window_steps, window_start = 0.0, 0, time.monotonic()
        reason = "max_steps"
        try:
            while self.step < cfg.max_steps:
                if self.cancel.is_set():
                    reason = "interrupted"
                    break
                self.elapsed_s = time.monotonic() - start
                if window_steps and budget_s is not None and self.elapsed_s >= budget_s:
                    reason = "max_minutes"
                    break
                rng = np.random.default_rng([cfg.seed, self.step])
                rows = train_ids[rng.integers(0, len(train_ids) - length - 1, batch)[:, None] + offsets]
                loss = float(model.train_on_batch(rows[:, :-1], rows[:, 1:]))
                if not math.isfinite(loss):
                    raise ValueError(f"the loss became {loss} at step {self.step + 1}; try a lower --lr")
                self.step += 1
                self.tokens += batch * length
                window_loss += loss
                window_steps += 1
                if self.step % cfg.log_every == 0 or self.step == cfg.max_steps:
                    now = time.monotonic()
                    self.elapsed_s = now - start
                    self.train_loss = window_loss / window_steps
                    rate = window_steps * batch * length / max(now - window_start, 1e-9)
                    eta = (cfg.max_steps - self.step) * (now - window_start) / window_steps
                    if budget_s is not None:
                        eta = min(eta, max(0.0, budget_s - self.elapsed_s))
                    lr = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
                    self.emit(Step(self.step, round(self.train_loss, 4), lr, round(rate, 1), round(self.elapsed_s, 1),
                                   round(eta, 1)))
                    window_loss, window_steps, window_start = 0.0, 0, time.monotonic()
                if self.step % self.eval_every == 0 and self.step < cfg.max_steps:
                    self._checkpoint(val_ids)
                    window_start = time.monotonic()
        except KeyboardInterrupt:
            reason = "interrupted"
        self.elapsed_s = time.monotonic() - start
        if self.step and (self.val is None or self.val.step != self.step):
            self._checkpoint(val_ids)
        return reason

    def _checkpoint(self, val_ids: np.ndarray) -> None:
        """Evaluate, sample and save."""
        self._evaluate(val_ids)
        self._sample()
        self._save()

    def _evaluate(self, val_ids: np.ndarray) -> None:
        """Mean next-token loss over the held-out ids in consecutive windows."""
        length = self.config.shape.sequence_length
        full = (len(val_ids) - 1) // length
        rows = [val_ids[i * length : (i + 1) * length + 1] for i in range(full)]
        batches = [np.stack(rows[b : b + 64]) for b in range(0, full, 64)]
        if len(val_ids) - 1 > full * length:
            batches.append(val_ids[full * length :][None])
        total_nats, count = 0.0, 0
        for block in batches:
            logits = self.model(block[:, :-1], training=False)
            nats = keras.losses.sparse_categorical_crossentropy(block[:, 1:], logits, from_logits=True)
            total_nats += float(keras.ops.sum(nats))
            count += block[:, 1:].size
        val_loss = total_nats / count
        chars = len(self.vocab.decode(val_ids[1:].tolist()))
        self.val = Eval(step=self.step, val_loss=round(val_loss, 4), perplexity=round(math.exp(min(val_loss, 700)), 2),
                        bits_per_char=round(total_nats / max(chars, 1) / math.log(2), 4))
        self.emit(self.val)

    def _sample(self) -> None:
        """One seeded sample per temperature, with scribe's sampler (no top-k or top-p)."""
        from scribe.engine.base import StreamEnd
        from scribe.keras_models.runtime import KerasGenerator

        cfg = self.config
        generator = KerasGenerator(self.model, self.vocab, architecture(cfg.arch), cfg.shape)
        self.samples = []
        for temperature in cfg.sample_temperatures:
            params = SamplingParams(temperature=temperature, seed=cfg.seed, max_new_tokens=cfg.sample_tokens)
            end = [item for item in generator.stream(cfg.sample_prompt, params, alternatives=0)][-1]
            assert isinstance(end, StreamEnd)
            sample = Sample(step=self.step, temperature=temperature, prompt=cfg.sample_prompt, text=end.text)
            self.samples.append(sample)
            self.emit(sample)

    def _save(self) -> None:
        cfg = self.config
        meta = {
            "format": "scribe-keras/1",
            "architecture": cfg.arch,
            "preset": cfg.preset,
            "shape": cfg.shape.to_dict(),
            "vocab": {"kind": self.vocab.kind, "size": len(self.vocab)},
            "parameters": int(self.model.count_params()),
            "progress": {"step": self.step, "tokens": self.tokens, "elapsed_s": round(self.elapsed_s, 1)},
            "validation": self.val.to_dict() if self.val else None,
            "seed": cfg.seed,
            "keras_version": keras.__version__,
        }
        save_folder(cfg.output, self.model, self.vocab, meta, lambda folder: write_card(folder / "README.md", self,
                                                                                        hardware()))
        self.emit(Saved(step=self.step, path=str(cfg.output)))
        self.emit(Checkpoint(step=self.step, path=str(cfg.output)))
