"""The Keras analysis pass on freshly built (untrained) Keras models: logits, attention recomputed from the
MultiHeadAttention weights, and an LSTM's reason for having none."""

from __future__ import annotations

import numpy as np
import pytest

keras_pass = pytest.importorskip("scribe.analysis.keras_pass")

from scribe.keras_models.architectures import build_model, preset  # noqa: E402

IDS = [3, 7, 1, 9, 4, 4, 2]


def direct_attention(mha, x: np.ndarray) -> np.ndarray:
    """softmax(q k^T / sqrt(d) + causal mask) per head, from the layer's query and key projections."""
    q = np.einsum("te,ehd->htd", x, np.asarray(mha.query_dense.kernel)) + np.asarray(mha.query_dense.bias)[:, None, :]
    k = np.einsum("te,ehd->htd", x, np.asarray(mha.key_dense.kernel)) + np.asarray(mha.key_dense.bias)[:, None, :]
    scores = q @ k.transpose(0, 2, 1) / np.sqrt(q.shape[-1])
    scores = np.where(np.tril(np.ones((len(x), len(x)), dtype=bool)), scores, -np.inf)
    scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return scores / scores.sum(axis=-1, keepdims=True)


def test_mini_gpt_attention_matches_its_query_and_key_weights():
    model = build_model("mini-gpt", preset("mini-gpt", "tiny"), 12)
    logits, weights, names, reason = keras_pass.analysis_pass(model, IDS, attentions=True, banned=[0])
    assert reason is None and names == ["hidden/attention"]
    assert weights.shape == (1, 2, len(IDS), len(IDS))
    x = np.asarray(model.get_layer("embedding")(np.asarray([IDS], dtype=np.int32)))[0]
    np.testing.assert_allclose(weights[0], direct_attention(model.get_layer("hidden").attention, x), atol=1e-5)
    expected = np.asarray(model(np.asarray([IDS], dtype=np.int32)))[0]
    np.testing.assert_allclose(logits[:, 1:], expected[:, 1:], atol=1e-5)
    assert np.isneginf(logits[:, 0]).all()
    # The layers are back to normal afterwards.
    assert "call" not in vars(model.get_layer("hidden").attention)


def test_transformer_decoder_reports_both_attentions_of_a_block_and_an_lstm_has_none():
    model = build_model("transformer-decoder", preset("transformer-decoder", "tiny"), 12)
    _, weights, names, _ = keras_pass.analysis_pass(model, IDS, attentions=True)
    assert names == ["hidden/attention_1", "hidden/attention_2"] and weights.shape == (2, 2, len(IDS), len(IDS))
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, atol=1e-5)
    assert np.allclose(np.triu(weights, k=1), 0.0)

    lstm = build_model("char-lstm", preset("char-lstm", "tiny"), 12)
    logits, weights, names, reason = keras_pass.analysis_pass(lstm, IDS, attentions=True)
    assert weights is None and names == [] and "no attention" in reason and logits.shape == (len(IDS), 12)
