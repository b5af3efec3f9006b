"""The analysis pass for the Keras models, to run where the model lives (the Keras worker process).

`analysis_pass(model, ids, attentions=...)` runs the model once over `ids` and returns what
`scribe.engine.base.Backend.analysis_pass` returns: the logits at every position and, for the
Transformer models, the attention weights of every `MultiHeadAttention` layer in the order they run (the
Transformer decoder's blocks have two each: self-attention and the second attention over the block's input). The
weights are captured by asking each attention layer for its scores during the pass, so the blocks' own code runs
unchanged. LSTMs have no attention; the reason says so. Importing this module imports Keras.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from scribe.keras_models.env import import_keras

keras = import_keras()

NO_ATTENTION = "{name} is a recurrent model (LSTM): it carries a state from token to token and has no attention weights"


def attention_layers(model: Any) -> list[Any]:
    """The model's MultiHeadAttention layers (none for an LSTM)."""
    return [layer for layer in model._flatten_layers(include_self=False)
            if isinstance(layer, keras.layers.MultiHeadAttention)]


def analysis_pass(model: Any, ids: Sequence[int], *, attentions: bool, banned: Sequence[int] = ()
                  ) -> tuple[np.ndarray, np.ndarray | None, list[str], str | None]:
    """(logits [tokens, vocab] float32 with `banned` ids at -inf, attention [layers, heads, tokens, tokens] or None,
    the attention layers' names, why there is no attention)."""
    layers = attention_layers(model) if attentions else []
    captured: list[tuple[str, Any]] = []

    def capturing(layer: Any) -> Any:
        original = layer.call

        def call(*args: Any, **kwargs: Any) -> Any:
            output, scores = original(*args, **{**kwargs, "return_attention_scores": True})
            captured.append((layer.path, scores))
            return output

        return call

    try:
        for layer in layers:
            layer.call = capturing(layer)
        logits = np.array(model(np.asarray([list(ids)], dtype=np.int32), training=False)[0], dtype=np.float32)
    finally:
        for layer in layers:
            del layer.call  # back to the class's method
    if len(banned):
        logits[:, list(banned)] = -np.inf
    if not captured:
        reason = "attention not asked for" if not attentions else NO_ATTENTION.format(name=model.name)
        return logits, None, [], reason
    weights = np.stack([np.asarray(scores)[0] for _, scores in captured]).astype(np.float32)
    return logits, weights, [path for path, _ in captured], None
