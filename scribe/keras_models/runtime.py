"""Generation with a Keras model: the same Sampler, TextStream and stream records as every other backend.

The LSTMs generate statefully: the prompt runs once through copies of the LSTM layers that return their state, then
each new token is one step of the LSTM cell equations from the carried state (no window is re-run; see LSTMStepper).

The Transformers use learned absolute position embeddings over a window of `sequence_length` tokens. Each token runs
one compiled step (`tf.function`, traced once for any length) over the tokens in the window and applies the output
layer to the last position only. Once the window is full it slides by one token per step, which shifts every token's
position, so every key and value changes and nothing computed for the previous token could be reused.

Importing this module imports Keras, TensorFlow and torch.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any, Protocol

import numpy as np
import torch

from scribe.types import StopReason, StreamEnd, TokenStep
from scribe.engine.textstream import TextStream
from scribe.keras_models.architectures import HIDDEN, LOGITS, Architecture, Preset
from scribe.keras_models.env import import_keras
from scribe.keras_models.vocab import Vocab
from scribe.sampling.params import SamplingParams
from scribe.sampling.sampler import Sampler

keras = import_keras()
import tensorflow as tf  # noqa: E402 - after import_keras, which quietens its import


class Stepper(Protocol):
    """Next-token logits for a growing sequence."""

    def start(self, ids: list[int]) -> np.ndarray:
        """Logits after the prompt `ids` (not empty)."""

    def advance(self, token_id: int) -> np.ndarray:
        """Logits after appending `token_id`."""

    def logprobs(self, ids: list[int]) -> np.ndarray:
        """Log-probabilities [len(ids), vocab] of the token after each of `ids` (a fresh sequence)."""


class LSTMStepper:
    """Runs the prompt once through copies of the LSTM layers that return their state (compiled), then each token as
    one step of the LSTM cell equations from the carried state, in NumPy on the layers' own weights.

    One step is a few small matrix products (about 0.3 M multiply-adds for the small preset); run as TensorFlow ops,
    each of its ~40 operations costs more in dispatch than in arithmetic (about 2 ms a step), while NumPy does the
    whole step in about 0.1 ms. The tests check that both give the full model's logits."""

    def __init__(self, model: Any) -> None:
        embedding, dense = model.get_layer("embedding"), model.get_layer(LOGITS)
        layers = [layer for layer in model.layers if isinstance(layer, keras.layers.LSTM)]
        stateful = []
        for layer in layers:
            if (layer.activation.__name__, layer.recurrent_activation.__name__) != ("tanh", "sigmoid"):
                raise ValueError(f"{layer.name}: only LSTMs with tanh and sigmoid activations are supported")
            copy = keras.layers.LSTM.from_config({**layer.get_config(), "return_state": True, "dropout": 0.0})
            copy.build((1, None, layer.input.shape[-1]))
            copy.set_weights(layer.get_weights())
            stateful.append(copy)
        self._units = [layer.units for layer in layers]
        self._embedding = keras.ops.convert_to_numpy(embedding.embeddings)
        self._cells = [tuple(np.asarray(w, dtype=np.float32) for w in layer.get_weights()) for layer in layers]
        self._dense = tuple(np.asarray(w, dtype=np.float32) for w in dense.get_weights())
        states = [(tf.TensorSpec([1, u], tf.float32), tf.TensorSpec([1, u], tf.float32)) for u in self._units]

        def sequence(ids, state):  # noqa: ANN001, ANN202 - the last layer's outputs and the carried states
            x = embedding(ids)
            carried = []
            for lstm, (h, c) in zip(stateful, state):
                x, h, c = lstm(x, initial_state=[h, c], training=False)
                carried.append((h, c))
            return x, carried

        @tf.function(input_signature=[tf.TensorSpec([1, None], tf.int32), states])
        def run_prompt(ids, state):
            x, carried = sequence(ids, state)
            return dense(x[:, -1])[0], carried

        @tf.function(input_signature=[tf.TensorSpec([1, None], tf.int32), states])
        def run_all(ids, state):
            x, carried = sequence(ids, state)
            return tf.nn.log_softmax(dense(x[0])), carried

        self._run_prompt, self._run_all = run_prompt, run_all
        self._state: list[tuple[np.ndarray, np.ndarray]] = []

    def start(self, ids: list[int]) -> np.ndarray:
        zeros = [(tf.zeros([1, u]), tf.zeros([1, u])) for u in self._units]
        logits, state = self._run_prompt(tf.constant([ids], dtype=tf.int32), zeros)
        self._state = [(h.numpy(), c.numpy()) for h, c in state]
        return logits.numpy()

    def advance(self, token_id: int) -> np.ndarray:
        x = self._embedding[token_id : token_id + 1]
        carried = []
        for (kernel, recurrent, bias), (h, c) in zip(self._cells, self._state):
            z = x @ kernel + h @ recurrent + bias
            i, f, g, o = np.split(z, 4, axis=1)
            c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
            x = h = _sigmoid(o) * np.tanh(c)
            carried.append((h, c))
        self._state = carried
        kernel, bias = self._dense
        return (x @ kernel + bias)[0]

    def logprobs(self, ids: list[int], chunk: int = 512) -> np.ndarray:
        """Log-probabilities [len(ids), vocab] of what follows each of `ids`, from the zero state."""
        state = [(tf.zeros([1, u]), tf.zeros([1, u])) for u in self._units]
        parts = []
        for begin in range(0, len(ids), chunk):
            logprobs, state = self._run_all(tf.constant([ids[begin : begin + chunk]], dtype=tf.int32), state)
            parts.append(logprobs.numpy())
        return np.concatenate(parts)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (np.tanh(0.5 * x) + 1.0)


class WindowStepper:
    """Runs the compiled step over the last `window` tokens and keeps only the last position's logits."""

    def __init__(self, model: Any, window: int) -> None:
        hidden = keras.Model(model.inputs, model.get_layer(HIDDEN).output)
        dense = model.get_layer(LOGITS)

        @tf.function(input_signature=[tf.TensorSpec([1, None], tf.int32)])
        def run(ids):
            return dense(hidden(ids, training=False)[:, -1])[0]

        @tf.function(input_signature=[tf.TensorSpec([1, None], tf.int32)])
        def run_all(ids):
            return tf.nn.log_softmax(dense(hidden(ids, training=False)[0]))

        self._run, self._run_all, self._window, self._ids = run, run_all, window, []

    def logprobs(self, ids: list[int]) -> np.ndarray:
        """Log-probabilities [len(ids), vocab] of what follows each of `ids`: windows overlapping by half, so every
        position after the first window sees at least half a window of context."""
        parts = []
        done, begin = 0, 0
        while done < len(ids):
            end = min(begin + self._window, len(ids))
            parts.append(self._run_all(tf.constant([ids[begin:end]], dtype=tf.int32)).numpy()[done - begin :])
            done, begin = end, max(0, end - self._window // 2)
        return np.concatenate(parts)

    def start(self, ids: list[int]) -> np.ndarray:
        self._ids = list(ids[-self._window :])
        return self._feed()

    def advance(self, token_id: int) -> np.ndarray:
        self._ids = (self._ids + [token_id])[-self._window :]
        return self._feed()

    def _feed(self) -> np.ndarray:
        return self._run(tf.constant([self._ids], dtype=tf.int32)).numpy()


class KerasGenerator:
    """Streams continuations from a Keras model (see the module docstring); not thread-safe."""

    def __init__(self, model: Any, vocab: Vocab, arch: Architecture, shape: Preset) -> None:
        self.vocab, self.arch, self.shape = vocab, arch, shape
        self.stepper: Stepper = LSTMStepper(model) if arch.recurrent else WindowStepper(model, shape.sequence_length)
        self._banned = list(vocab.banned)

    def score(self, ids: list[int]) -> list[float]:
        """The natural-log probability of each of `ids` given those before it (the first given the start token)."""
        context = [self.vocab.start_id, *ids[:-1]]
        logprobs = self.stepper.logprobs(context)
        return logprobs[np.arange(len(ids)), ids].astype(float).tolist()

    def prompt_ids(self, prompt: str) -> list[int]:
        """The prompt's last `sequence_length` token ids, or the start token for a prompt with none."""
        ids = self.vocab.encode(prompt)[-self.shape.sequence_length :]
        return ids or [self.vocab.start_id]

    def stream(
        self, prompt: str, params: SamplingParams, *, alternatives: int = 5, cancel: threading.Event | None = None
    ) -> Iterator[TokenStep | StreamEnd]:
        """Continue `prompt` one token at a time: TokenSteps, then one StreamEnd (errors end it, never raise)."""
        start = time.perf_counter()
        vocab = self.vocab
        text = TextStream(lambda ids: vocab.decode(ids, after=prompt), params.stop)
        reason: StopReason = "max_tokens"
        error: str | None = None
        tokens = prompt_tokens = 0
        first_token_s = 0.0
        try:
            if alternatives < 0:
                raise ValueError(f"alternatives must be 0 or more, got {alternatives}")
            ids = self.prompt_ids(prompt)
            prompt_tokens = len(ids)
            sampler = Sampler(params)
            sequence = torch.empty(prompt_tokens + params.max_new_tokens, dtype=torch.long)
            sequence[:prompt_tokens] = torch.tensor(ids, dtype=torch.long)
            step_start = time.perf_counter()
            logits = self.stepper.start(ids)
            for index in range(params.max_new_tokens):
                if cancel is not None and cancel.is_set():
                    reason = "cancelled"
                    break
                if index:
                    step_start = time.perf_counter()
                    logits = self.stepper.advance(token)
                scores = torch.from_numpy(logits).float()
                scores[self._banned] = -torch.inf
                length = prompt_tokens + index
                result = sampler.step(scores, sequence[:length], prompt_tokens, alternatives=alternatives,
                                      decode=vocab.token_text)
                token = result.token_id
                sequence[length] = token
                piece = text.push(token)
                now = time.perf_counter()
                if index == 0:
                    first_token_s = now - start
                tokens = index + 1
                yield TokenStep(index=index, token_id=token, text=piece, raw_prob=result.raw_prob,
                                final_prob=result.final_prob, alternatives=result.alternatives,
                                elapsed_s=now - step_start)
                if text.stopped:
                    reason = "stop_string"
                    break
            text.finish()
        except Exception as exc:  # the stream's contract: end with StreamEnd(reason="error"), never raise
            first = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")
            reason, error = "error", f"{type(exc).__name__}: {first[:300]}"
        yield StreamEnd(reason=reason, text=text.text, tokens=tokens, prompt_tokens=prompt_tokens,
                        elapsed_s=time.perf_counter() - start, first_token_s=first_token_s, error=error)
