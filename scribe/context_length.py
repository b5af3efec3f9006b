"""A model's context length (the most tokens it sees at once), read from what its files say: the one place that
decides it for every format. The backends report it as `ModelInfo.context_length`, the model list shows it, and
training checks `--context` against it; each reads it through these functions. Imports nothing heavy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

HF_CONTEXT_KEYS = ("n_positions", "max_position_embeddings", "n_ctx", "seq_length", "max_sequence_length")
"""Where Hugging Face configs keep the context length, in the order asked (GPT-2's name first)."""
GGUF_DEFAULT_CONTEXT = 2048
"""A GGUF file's context length when its metadata does not say (llama.cpp's usual default)."""
COUNT_FALLBACK_CONTEXT = 8192
"""The context the studio's token count assumes for a backend that reports none (context length 0)."""


def hf_context_length(config: Mapping[str, Any] | object) -> int | None:
    """The context length a Hugging Face config states (a `PretrainedConfig` or config.json's dict), from its text
    part for a multimodal model; None when it does not say."""
    if not isinstance(config, Mapping) and hasattr(config, "get_text_config"):
        config = config.get_text_config()

    def value(key: str) -> object:
        return config.get(key) if isinstance(config, Mapping) else getattr(config, key, None)

    for key in HF_CONTEXT_KEYS:
        found = value(key)
        if isinstance(found, int) and not isinstance(found, bool) and found > 0:
            return found
    text = value("text_config")
    return hf_context_length(text) if isinstance(text, Mapping) else None


def gguf_context_length(fields: Mapping[str, Any]) -> int | None:
    """The context length in a GGUF file's metadata (`gguf.GGUFReader(path).fields`): `<architecture>.context_length`;
    None when it does not say. KeyError, ValueError or IndexError for a damaged field."""
    architecture = bytes(fields["general.architecture"].parts[-1]).decode("utf-8")
    field = fields.get(f"{architecture}.context_length")
    return int(field.parts[-1][0]) if field is not None else None


def keras_context_length(meta: Mapping[str, Any]) -> int:
    """The context length of a scribe Keras model (its `scribe-keras.json`): the window of tokens it was trained on,
    which is also what generation feeds it, LSTMs included (`scribe.keras_models.runtime`)."""
    return int(meta["shape"]["sequence_length"])
