"""The Keras backend: char-LSTM, word-LSTM, Transformer-decoder and mini-GPT models trained by `scribe train --arch`.

The model runs in a worker process (`scribe.keras_models.worker`) and this class is its proxy. TensorFlow prints to
file descriptor 2 when it loads, from C++ as well as Python, and the TUI draws on that same descriptor, so no
redirection inside the TUI's process would be safe; in the worker, descriptors 1 and 2 go to a log file
(`<log dir>/keras-worker.log`). The worker uses the same Sampler and TextStream as every backend and sends back each
TokenStep as it is produced; the vocabulary is read here too, so counting tokens needs no round trip. Closing the
backend ends the worker and frees all of TensorFlow's memory.
"""

from __future__ import annotations

import itertools
import os
import pickle
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from scribe.config import Paths
from scribe.context_length import keras_context_length
from scribe.engine.base import (
    SEARCH_SETTINGS,
    Backend,
    Capability,
    EngineError,
    ModelInfo,
    ModelLoadError,
    StreamEnd,
    TokenScore,
    TokenStep,
)
from scribe.keras_models.architectures import architecture
from scribe.keras_models.env import keras_environment
from scribe.keras_models.saved import check_folder
from scribe.keras_models.vocab import Vocab
from scribe.sampling.params import SamplingParams

LOG_NAME = "keras-worker.log"
LOADING_NOTICE = "loading TensorFlow for the Keras model (the first time can take ~30 s)…"


class KerasBackend(Backend):
    """A Keras model folder served by a worker process. It samples; beam and contrastive search and banned phrases
    are not available."""

    unsupported = SEARCH_SETTINGS | {"banned_phrases"}  # the worker's loop does not backtrack
    capabilities = frozenset({Capability.LOGITS, Capability.SCORE, Capability.ANALYSE})

    @classmethod
    def detect(cls, path: Path) -> bool:
        """A folder with a .keras file and no Hugging Face config.json."""
        return path.is_dir() and not (path / "config.json").exists() and any(path.glob("*.keras"))

    @classmethod
    def loading_notice(cls, path: Path) -> str | None:
        """The worker starts TensorFlow before the model loads: seconds, and about half a minute the first time."""
        return LOADING_NOTICE

    def __init__(self, process: subprocess.Popen, vocab: Vocab, info: ModelInfo, log: Path) -> None:
        self._process, self._vocab, self.info, self._log = process, vocab, info, log
        self._run_ids = itertools.count(1)

    @classmethod
    def load(
        cls,
        path: str | Path,
        *,
        name: str | None = None,
        device: str = "auto",
        dtype: str = "auto",
        trust_remote_code: bool = False,
    ) -> "KerasBackend":
        """Start the worker on the folder at `path` and wait until the model is loaded (ModelLoadError if it fails).
        Keras models run in float32 on the CPU; `trust_remote_code` does not apply (no code is loaded from folders)."""
        path = Path(path)
        if device not in ("auto", "cpu") or dtype not in ("auto", "float32", "fp32"):
            raise ModelLoadError(f"{path}: Keras models run in float32 on the CPU (asked for {device}, {dtype})")
        meta, vocab = check_folder(path)
        log = Paths.discover().log / LOG_NAME
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as log_file:
            process = subprocess.Popen(
                [sys.executable, "-m", "scribe.keras_models.worker", str(path)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log_file,
                env={**os.environ, **keras_environment()},
            )
        try:
            reply = pickle.load(process.stdout)
        except (EOFError, OSError, pickle.UnpicklingError):
            process.wait()
            raise ModelLoadError(f"{path}: the Keras worker stopped while loading (exit status {process.returncode}); "
                                 f"see {log}") from None
        if reply[0] != "ready":
            process.wait()
            raise ModelLoadError(reply[1])
        arch = architecture(meta["architecture"])
        info = ModelInfo(
            name=name or path.name, backend="keras", location=str(path), device="cpu", dtype="float32",
            context_length=keras_context_length(meta), vocab_size=len(vocab),
            parameters=reply[1]["parameters"],
            extra={"architecture": arch.name, "preset": str(meta.get("preset", "")), "tokens": arch.tokens,
                   "decoding": "stateful LSTM steps" if arch.recurrent else "compiled window step"},
        )
        return cls(process, vocab, info, log)

    def count_tokens(self, text: str) -> int:
        """Number of tokens the model sees for this text (characters or word-level tokens)."""
        return len(self._vocab.encode(text))

    def score(self, text: str) -> list[TokenScore]:
        """Each token of `text` with its log-probability under the model, computed in the worker (the first token
        given the start token; LSTMs read the whole text, Transformers windows overlapping by half)."""
        ids, pieces = self._vocab.encode_pieces(text)
        if not ids:
            return []
        run_id = next(self._run_ids)
        self._send(("score", run_id, ids))
        logprobs = self._receive(run_id)
        if isinstance(logprobs, Exception):
            raise EngineError(f"scoring failed in the Keras worker: {logprobs}")
        return [TokenScore(token_id=i, text=p, logprob=lp) for i, p, lp in zip(ids, pieces, logprobs)]

    def encode_ids(self, text: str) -> list[int]:
        """The token ids the model sees for `text`."""
        return self._vocab.encode(text)

    def token_text(self, token_id: int) -> str:
        """The text of one token."""
        return self._vocab.token_text(token_id)

    def analysis_pass(self, ids: Sequence[int], *, attentions: bool) -> tuple[Any, Any, list[str], str | None]:
        """One forward pass over `ids` in the worker (`scribe.analysis.keras_pass.analysis_pass`)."""
        run_id = next(self._run_ids)
        self._send(("analyse", run_id, list(ids), attentions))
        result = self._receive(run_id)
        if isinstance(result, Exception):
            raise EngineError(f"analysis failed in the Keras worker: {result}")
        return result

    def stream(
        self,
        prompt: str,
        params: SamplingParams,
        *,
        alternatives: int = 5,
        cancel: threading.Event | None = None,
    ) -> Iterator[TokenStep | StreamEnd]:
        """Stream from the worker (see `KerasGenerator.stream`); a worker that dies ends the stream with an error."""
        start = time.perf_counter()
        run_id = next(self._run_ids)
        ended = False
        steps: list[TokenStep] = []
        try:
            self._send(("stream", run_id, prompt, params, alternatives))
            while not ended:
                item = self._receive(run_id)
                ended = isinstance(item, StreamEnd)
                if isinstance(item, TokenStep):
                    steps.append(item)
                yield item
                if not ended:
                    self._send(("cancel" if cancel is not None and cancel.is_set() else "next", run_id))
        except EngineError as exc:
            ended = True
            yield StreamEnd(reason="error", text="".join(s.text for s in steps), tokens=len(steps), prompt_tokens=0,
                            elapsed_s=time.perf_counter() - start, first_token_s=0.0, error=str(exc))
        finally:
            if not ended:  # the caller stopped reading: stop the worker and take its last item
                try:
                    self._send(("cancel", run_id))
                    while not isinstance(self._receive(run_id), StreamEnd):
                        self._send(("cancel", run_id))
                except EngineError:
                    pass

    def close(self) -> None:
        """End the worker process (it frees all of TensorFlow's memory)."""
        try:
            self._send(("close",))
            self._process.stdin.close()
        except (EngineError, OSError):
            pass
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process.stdout.close()

    def _send(self, message: tuple[Any, ...]) -> None:
        try:
            pickle.dump(message, self._process.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            self._process.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            raise self._died() from None

    def _receive(self, run_id: int) -> Any:
        while True:
            try:
                kind, received_id, item = pickle.load(self._process.stdout)
            except (EOFError, OSError, ValueError, pickle.UnpicklingError):
                raise self._died() from None
            if kind == "item" and received_id == run_id:
                return item

    def _died(self) -> EngineError:
        status = self._process.poll()
        return EngineError(f"the Keras worker for {self.info.location} stopped"
                           + (f" (exit status {status})" if status is not None else "") + f"; see {self._log}")
