"""The Transformer presets that train long use dropout 0.1, as the Keras examples they reproduce do."""

from __future__ import annotations

from scribe.keras_models.architectures import ARCHITECTURES


def test_every_transformer_preset_beyond_tiny_has_the_examples_dropout() -> None:
    for arch in ("transformer-decoder", "mini-gpt"):
        presets = ARCHITECTURES[arch].presets
        assert {name: p.dropout for name, p in presets.items() if name != "tiny"} == {"small": 0.1, "medium": 0.1}
