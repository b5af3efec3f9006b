"""The Transformer presets that train long use dropout 0.1, as the Keras examples they reproduce do."""

from __future__ import annotations

from scribe.keras_models.architectures import ARCHITECTURES


def test_every_transformer_preset_beyond_tiny_has_the_examples_dropout() -> None:
    for arch in ("transformer-decoder", "mini-gpt"):
        presets = ARCHITECTURES[arch].presets
        assert {name: p.dropout for name, p in presets.items() if name != "tiny"} == {"small": 0.1, "medium": 0.1}


def test_both_transformer_blocks_drop_out_while_training_only() -> None:
    import numpy as np

    from scribe.keras_models.layers import TransformerBlock, TransformerDecoder

    x = np.random.default_rng(0).normal(size=(2, 6, 8)).astype("float32")
    for block in (TransformerDecoder(8, 16, 2, dropout=0.5), TransformerBlock(8, 2, 16, dropout=0.5)):
        inference = [np.asarray(block(x, training=False)) for _ in range(2)]
        training = [np.asarray(block(x, training=True)) for _ in range(2)]
        assert np.array_equal(*inference)
        assert not np.allclose(*training) and not np.allclose(training[0], inference[0])
