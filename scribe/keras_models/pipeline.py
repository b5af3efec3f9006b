"""The `tf.data` pipelines Keras training reads: windows of `length + 1` tokens cut from the token stream, each split
into the model's inputs (all but the last token) and its targets (the same window shifted by one: all but the first).

Training cuts the text into consecutive windows from a random offset, one pass after another, each pass in its own
order; the offset and the order of pass `p` come from a stateless generator seeded with (seed, p), so the batches are
a function of the seed and the batch number alone and a resumed run (`skip_batches`) reads exactly the batches an
uninterrupted one would. Validation reads the held-out text in consecutive windows, in order. Importing this module
imports TensorFlow.
"""

from __future__ import annotations

import numpy as np

from scribe.keras_models.env import import_keras

import_keras()
import tensorflow as tf  # noqa: E402 - after import_keras, which quietens its import


def shift_by_one(windows: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """(inputs, next-token targets) of a batch of windows [batch, length + 1]."""
    return windows[:, :-1], windows[:, 1:]


def windows_per_pass(tokens: int, length: int) -> int:
    """How many training windows one pass over `tokens` tokens holds (at least one)."""
    return max(1, (tokens - 1) // length - 1)


def training_batches(ids: np.ndarray, length: int, batch: int, seed: int, skip_batches: int = 0) -> tf.data.Dataset:
    """An endless dataset of (inputs, targets) batches of `batch` windows over `ids`, starting after `skip_batches`
    batches (see the module docstring). Needs at least `length + 2` tokens."""
    tokens = len(ids)
    per_pass = windows_per_pass(tokens, length)
    max_offset = min(length - 1, tokens - 1 - per_pass * length)
    stream = tf.constant(ids, dtype=tf.int32)
    first_pass, skip = divmod(skip_batches * batch, per_pass)

    def one_pass(number: tf.Tensor) -> tf.data.Dataset:
        pass_seed = tf.stack([tf.constant(seed, tf.int64), number])
        offset = tf.random.stateless_uniform([], pass_seed, minval=0, maxval=max_offset + 1, dtype=tf.int64)
        order = tf.argsort(tf.random.stateless_uniform([per_pass], pass_seed))
        return tf.data.Dataset.from_tensor_slices(offset + tf.cast(order, tf.int64) * length)

    starts = tf.data.Dataset.range(first_pass, np.iinfo(np.int64).max).flat_map(one_pass).skip(skip)
    windows = starts.map(lambda start: stream[start : start + length + 1], num_parallel_calls=tf.data.AUTOTUNE)
    return windows.batch(batch, drop_remainder=True).map(shift_by_one).prefetch(tf.data.AUTOTUNE)


def validation_windows(tokens: int, length: int) -> tuple[int, int]:
    """(window length, number of windows) for validating on `tokens` held-out tokens: consecutive windows of `length`
    predicted tokens, shorter when the text holds less than one."""
    window = min(length, tokens - 1)
    return window, (tokens - 1) // window


def validation_batches(ids: np.ndarray, length: int, batch: int) -> tf.data.Dataset:
    """The held-out text as consecutive (inputs, targets) windows (`validation_windows`), in order; the tokens after
    the last full window are not scored."""
    window, count = validation_windows(len(ids), length)
    rows = np.lib.stride_tricks.sliding_window_view(ids[: count * window + 1], window + 1)[::window]
    return tf.data.Dataset.from_tensor_slices(rows.astype(np.int32)).batch(batch).map(shift_by_one)
