"""Training a Keras model from scratch on the writer's corpus with Keras' own `model.fit`, reporting
`scribe.training.events`.

The corpus is read with `scribe.training.corpus` a piece at a time into a scratch file of the job folder, split like
the GPT-2 trainer does (whole documents held out) and tokenised a piece at a time (no copy of the whole text is held;
a Ctrl-C is honoured while it is read). The
training text becomes a `tf.data` pipeline of windows shifted by one for the next-token targets (`pipeline.py`); the
held-out text is fit's `validation_data`. An epoch is `eval_every` steps (by default one pass over the training text);
at each epoch end Keras measures the validation loss and the callbacks (`callbacks.py`) report it, sample at each of
`sample_temperatures` and save the whole folder (`saved.py`): optimizer state, and the history of every epoch's
figures and samples in `metrics.jsonl` with its picture `curves.svg`, so the run can resume from it.
Setting `cancel` (the job process does on SIGINT/SIGTERM) stops after the current batch, and so does the time budget;
the epoch then ends as usual (validation, samples, save). Ctrl-C in this process (KeyboardInterrupt) does the same
after unwinding `fit`.

`fit` replaced a hand-written `train_on_batch` loop; on a busy 2-core Xeon, alternating rounds of 10-15 steps of the
small presets, it was no slower (char-lstm 1,041 against 982 ms a step, median of four rounds, best 655 against 745;
mini-gpt 1,314 against 1,313 in the quieter round).
"""

from __future__ import annotations

import math
import platform
import threading
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from scribe.keras_models.architectures import architecture, build_model
from scribe.keras_models.callbacks import FolderCheckpoint, RunState, TextGenerator, TrainingProgress
from scribe.keras_models.card import write_card
from scribe.keras_models.env import import_keras
from scribe.keras_models.pipeline import training_batches, validation_batches, validation_windows, windows_per_pass
from scribe.keras_models.saved import MODEL_FILE, load_folder, read_meta, save_folder
from scribe.keras_models.train_config import KerasTrainConfig
from scribe.keras_models.vocab import Vocab, char_vocab, word_vocab
from scribe.training.corpus import PIECE_CHARS, Text, cut_pieces, scratch_store, store_corpus
from scribe.training.curves import read_metrics, write_history
from scribe.training.dataset import split_corpus, text_ids
from scribe.training.events import Checkpoint, Eval, Event, Finished, Saved, Started
from scribe.training.job import save_failed

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


def _pieces(documents: Sequence[Text]) -> Iterator[str]:
    """The documents' text, a piece at a time, cut only where no word or character token spans the cut."""
    for doc in documents:
        yield from cut_pieces(doc.pieces(), PIECE_CHARS, exact=True)


def _ids(documents: Sequence[Text], vocab: Vocab) -> np.ndarray:
    """The documents' token ids, one after another, as int32 (read a piece at a time)."""
    parts = [text_ids(doc.pieces(), vocab.encode) for doc in documents]
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.int32)


class KerasTrainer:
    """Runs one training; `run()` emits events through `emit` and returns the Finished event."""

    def __init__(self, config: KerasTrainConfig, emit: Callable[[Event], None] = lambda event: None, *,
                 cancel: threading.Event | None = None) -> None:
        self.config = config
        self.emit = emit
        self.cancel = cancel or threading.Event()
        """Set it to stop after the current batch (then evaluate, sample and save, as at an epoch's end)."""
        self.state = RunState()
        self.top_k: int = config.sample_top_k
        self.top_p: float = config.sample_top_p
        """Sampling filters of the per-epoch samples (settings of KerasTrainConfig when it has them)."""

    def run(self) -> Finished:
        """Read, tokenise, build (or resume), fit, and return how it ended."""
        cfg = self.config
        if cfg.threads:
            import tensorflow as tf

            tf.config.threading.set_intra_op_parallelism_threads(cfg.threads)
        keras.utils.set_random_seed(cfg.seed)
        arch, shape = architecture(cfg.arch), cfg.shape
        assert cfg.job_dir is not None  # set by KerasTrainConfig
        cfg.job_dir.mkdir(parents=True, exist_ok=True)
        with scratch_store(cfg.job_dir) as store:  # the cleaned text, read a piece at a time (as `scribe train`)
            corpus = store_corpus(cfg.data, store, strip_gutenberg=cfg.strip_gutenberg, join_lines=cfg.join_lines)
            train_docs, val_docs = split_corpus(corpus.documents, cfg.val_fraction, cfg.seed)
            resumed = self._resume() if cfg.resume else None
            if resumed is not None:
                model, vocab = resumed
            else:
                vocab = (char_vocab(_pieces(corpus.documents)) if arch.tokens == "char"
                         else word_vocab(_pieces(train_docs), shape.max_tokens))
                model = build_model(cfg.arch, shape, len(vocab))
            train_ids, held_out = _ids(train_docs, vocab), _ids(val_docs, vocab)
        val_ids = held_out[: cfg.eval_tokens + 1]
        unit = "characters" if arch.tokens == "char" else "words"
        if len(train_ids) < shape.sequence_length + 2 or len(val_ids) < 2:
            raise ValueError(
                f"corpus too short: {len(train_ids):,} training {unit} and {len(val_ids):,} held out for a sequence "
                f"length of {shape.sequence_length:,}; give more text or a smaller --context")
        window, windows = validation_windows(len(val_ids), shape.sequence_length)
        scored = val_ids[1 : window * windows + 1]
        self.corpus, self.vocab, self.model, self.val_documents = corpus, vocab, model, val_docs
        self.train_tokens, self.val_tokens = len(train_ids), len(scored)
        self.val_chars = len(vocab.decode(scored.tolist()))
        self.val_whole = len(scored) == len(held_out) - 1
        self.eval_every = cfg.eval_every or max(1, windows_per_pass(len(train_ids), shape.sequence_length)
                                                // shape.batch_size)
        st = self.state
        self.emit(Started(
            output=str(cfg.output), preset=f"{cfg.arch}-{cfg.preset}", parameters=int(model.count_params()),
            vocab_size=len(vocab), context=shape.sequence_length, batch_size=shape.batch_size,
            documents=len(corpus.documents), train_tokens=len(train_ids), val_tokens=len(val_ids),
            max_steps=cfg.max_steps, max_minutes=cfg.max_minutes,
            skipped=[[str(s.path), s.reason] for s in corpus.skipped], resumed_from=st.step,
        ))
        callbacks = [
            TrainingProgress(st, self.emit, self.cancel, max_steps=cfg.max_steps, log_every=cfg.log_every,
                             budget_s=cfg.max_minutes * 60 if cfg.max_minutes else None,
                             tokens_per_step=shape.batch_size * shape.sequence_length, val_tokens=len(scored),
                             val_chars=self.val_chars),
            TextGenerator(st, self.emit, vocab, arch, shape, prompt=cfg.sample_prompt,
                          temperatures=cfg.sample_temperatures, max_tokens=cfg.sample_tokens, seed=cfg.seed,
                          top_k=self.top_k, top_p=self.top_p),
            FolderCheckpoint(st, self._save, top_k=self.top_k, top_p=self.top_p),
        ]
        self._fit(train_ids, val_ids, callbacks)
        val = st.val
        finished = Finished(
            reason=st.reason, steps=st.step, tokens=st.tokens, elapsed_s=round(st.elapsed_s, 1),
            val_loss=val.val_loss if val else None, perplexity=val.perplexity if val else None,
            bits_per_char=val.bits_per_char if val else None, path=str(cfg.output),
        )
        self.emit(finished)
        return finished

    def _fit(self, train_ids: np.ndarray, val_ids: np.ndarray, callbacks: list[Any]) -> None:
        """`model.fit` from the step reached to `max_steps`; after a Ctrl-C, the epoch-end work (validation, samples,
        save) for the steps trained since the last save."""
        cfg, shape, st = self.config, self.config.shape, self.state
        remaining = cfg.max_steps - st.step
        if remaining <= 0 or self.cancel.is_set():
            st.reason = "max_steps" if remaining <= 0 else "interrupted"
            return
        train = training_batches(train_ids, shape.sequence_length, shape.batch_size, cfg.seed, skip_batches=st.step)
        val = validation_batches(val_ids, shape.sequence_length, shape.batch_size)
        try:
            self.model.fit(train, validation_data=val, epochs=math.ceil(remaining / self.eval_every),
                           steps_per_epoch=self.eval_every, callbacks=callbacks, shuffle=False, verbose=0)
        except KeyboardInterrupt:
            st.reason = "interrupted"
            if st.step and st.saved_step != st.step:
                shown = st.val
                fresh = shown is not None and shown.step == st.step
                val_loss = (shown.val_loss if shown is not None and fresh
                            else self.model.evaluate(val, verbose=0, return_dict=True)["loss"])
                logs = {"val_loss": val_loss}
                for callback in callbacks[1:] if fresh else callbacks:  # the Eval event went out already
                    callback.on_epoch_end(len(st.history), logs)

    def _resume(self) -> tuple[Any, Vocab] | None:
        """The model and vocabulary saved at the output folder, with the progress and history they reached (None:
        nothing there)."""
        cfg = self.config
        if not (cfg.output / MODEL_FILE).is_file():
            return None
        meta = read_meta(cfg.output)
        if meta["architecture"] != cfg.arch:
            raise ValueError(f"{cfg.output} holds a {meta['architecture']} model, not {cfg.arch}; cannot resume it")
        loaded = load_folder(cfg.output)
        self.config.shape = loaded.shape
        progress = meta.get("progress", {})
        st = self.state
        st.step, st.tokens = int(progress.get("step", 0)), int(progress.get("tokens", 0))
        st.saved_step = st.step
        st.elapsed_s = float(progress.get("elapsed_s", 0.0))
        st.history = read_metrics(cfg.output)
        if meta.get("validation"):
            st.val = Eval(**{k: v for k, v in meta["validation"].items() if k != "event"})
        return loaded.model, loaded.vocab

    def _save(self) -> None:
        """Write the model folder (model, vocabulary, metadata, card and history) and report it."""
        cfg, st = self.config, self.state
        meta = {
            "format": "scribe-keras/1",
            "architecture": cfg.arch,
            "preset": cfg.preset,
            "shape": cfg.shape.to_dict(),
            "vocab": {"kind": self.vocab.kind, "size": len(self.vocab)},
            "parameters": int(self.model.count_params()),
            "progress": {"step": st.step, "tokens": st.tokens, "elapsed_s": round(st.elapsed_s, 1)},
            "validation": st.val.to_dict() if st.val else None,
            "seed": cfg.seed,
            "keras_version": keras.__version__,
        }

        def extra(folder: Path) -> None:
            write_history(folder, st.history)
            write_card(folder / "README.md", self, hardware())

        try:
            save_folder(cfg.output, self.model, self.vocab, meta, extra)
        except Exception as exc:  # the folder saved before, if any, is kept whole
            kept = f"the model saved at step {st.saved_step} in {cfg.output}" if st.saved_step >= 0 else None
            raise ValueError(save_failed(cfg.output, exc, kept, cfg.command)) from exc
        st.saved_step = st.step
        self.emit(Saved(step=st.step, path=str(cfg.output)))
        self.emit(Checkpoint(step=st.step, path=str(cfg.output)))
