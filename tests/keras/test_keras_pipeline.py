"""The tf.data pipelines of Keras training: windows of the token stream whose targets are the inputs shifted by one,
seeded passes a resumed run can rejoin, and validation in consecutive windows."""

from __future__ import annotations

import numpy as np


def batches(dataset, count: int) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(x.numpy(), y.numpy()) for x, y in dataset.take(count)]


def test_targets_are_the_inputs_shifted_by_one_and_each_pass_cuts_the_text_once() -> None:
    from scribe.keras_models.pipeline import training_batches, windows_per_pass

    ids = np.arange(1000, 1203, dtype=np.int32)  # 203 tokens: token value = 1000 + position
    length, batch = 10, 4
    per_pass = windows_per_pass(len(ids), length)
    assert per_pass == 19
    got = batches(training_batches(ids, length, batch, seed=3), 10)
    starts = []
    for x, y in got:
        assert x.shape == y.shape == (batch, length) and x.dtype == np.int32
        assert (y[:, :-1] == x[:, 1:]).all() and (y[:, -1] == x[:, -1] + 1).all()  # the next token, always
        assert (np.diff(x, axis=1) == 1).all()  # each window is a contiguous stretch of the text
        starts += (x[:, 0] - 1000).tolist()
    first_pass = starts[:per_pass]
    offset = min(first_pass)
    assert sorted(first_pass) == [offset + i * length for i in range(per_pass)]  # every window once, none overlapping
    assert first_pass != sorted(first_pass)  # in a shuffled order
    second_pass = starts[per_pass : 2 * per_pass]
    assert sorted(second_pass) == [min(second_pass) + i * length for i in range(per_pass)]
    assert second_pass != first_pass  # the next pass has its own offset and order


def test_a_resumed_pipeline_reads_the_batches_an_uninterrupted_one_would() -> None:
    from scribe.keras_models.pipeline import training_batches

    ids = np.random.default_rng(0).integers(0, 50, 500).astype(np.int32)
    whole = batches(training_batches(ids, 16, 8, seed=7), 12)
    resumed = batches(training_batches(ids, 16, 8, seed=7, skip_batches=5), 7)
    for (x, y), (rx, ry) in zip(whole[5:], resumed):
        assert (x == rx).all() and (y == ry).all()
    other_seed = batches(training_batches(ids, 16, 8, seed=8), 1)
    assert not (other_seed[0][0] == whole[0][0]).all()


def test_a_text_barely_longer_than_one_window_still_trains() -> None:
    from scribe.keras_models.pipeline import training_batches

    ids = np.arange(12, dtype=np.int32)
    [(x, y)] = batches(training_batches(ids, 10, 2, seed=0), 1)
    assert x.shape == (2, 10) and (y == x + 1).all() and y.max() <= 11


def test_validation_reads_consecutive_windows_in_order() -> None:
    from scribe.keras_models.pipeline import validation_batches, validation_windows

    ids = np.arange(26, dtype=np.int32)
    assert validation_windows(26, 8) == (8, 3)  # 25 predicted tokens: three windows of 8, the last one unscored
    got = batches(validation_batches(ids, 8, 2), 5)
    xs = np.concatenate([x for x, _ in got])
    ys = np.concatenate([y for _, y in got])
    assert xs.flatten().tolist() == list(range(24)) and ys.flatten().tolist() == list(range(1, 25))
    assert validation_windows(5, 8) == (4, 1)  # less than one window held out: one shorter window
