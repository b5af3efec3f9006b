"""The four Keras architectures and their presets.

- `char-lstm`: characters -> Embedding -> LSTM layers -> Dense (the classic char-rnn).
- `word-lstm`: the same over word-level tokens (a TextVectorization vocabulary).
- `transformer-decoder`: PositionalEmbedding -> TransformerDecoder blocks -> Dense, trained with RMSprop.
- `mini-gpt`: TokenAndPositionEmbedding -> causal TransformerBlocks -> Dense, trained with Adam.

Every model maps int32 token ids [batch, time] to next-token logits [batch, time, vocab] and is trained with sparse
categorical cross-entropy on the logits. The last hidden layer is named "hidden" and the output layer "logits", which is
what generation (`runtime.py`) relies on. The tables here import nothing; `build_model` imports Keras.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

HIDDEN, LOGITS = "hidden", "logits"


@dataclass(frozen=True)
class Preset:
    """One model shape with its training defaults."""

    sequence_length: int
    """Tokens per training window; the Transformers' context length."""
    embed_dim: int
    units: int
    """LSTM units, or the width of a Transformer block's feed-forward layer."""
    layers: int
    """LSTM layers or Transformer blocks."""
    heads: int = 0
    max_tokens: int = 0
    """Word vocabulary size (0 for character models)."""
    batch_size: int = 64
    lr: float = 2e-3
    dropout: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain values (for the model's metadata)."""
        return asdict(self)


@dataclass(frozen=True)
class Architecture:
    """A model family: its tokenization, optimiser and presets."""

    name: str
    tokens: str
    """"char" or "word"."""
    recurrent: bool
    optimizer: str
    description: str
    presets: dict[str, Preset]


ARCHITECTURES: dict[str, Architecture] = {
    a.name: a
    for a in (
        Architecture(
            "char-lstm", "char", True, "adam", "character-level LSTM (Embedding, LSTM, Dense)",
            {
                "tiny": Preset(32, 16, 64, 1, batch_size=16),
                "small": Preset(100, 64, 256, 2),
                "medium": Preset(100, 128, 512, 2, dropout=0.1),
            },
        ),
        Architecture(
            "word-lstm", "word", True, "adam", "word-level LSTM over a TextVectorization vocabulary",
            {
                "tiny": Preset(16, 16, 32, 1, max_tokens=1000, batch_size=16),
                "small": Preset(32, 128, 256, 1, max_tokens=10_000),
                "medium": Preset(48, 256, 512, 2, max_tokens=20_000, dropout=0.1),
            },
        ),
        Architecture(
            "transformer-decoder", "word", False, "rmsprop",
            "word-level Transformer decoder (PositionalEmbedding, TransformerDecoder), RMSprop",
            {
                "tiny": Preset(16, 32, 64, 1, heads=2, max_tokens=1000, batch_size=16, lr=1e-3),
                "small": Preset(64, 128, 512, 1, heads=4, max_tokens=10_000, lr=5e-4, dropout=0.1),
                "medium": Preset(64, 256, 1024, 2, heads=8, max_tokens=20_000, lr=3e-4, dropout=0.1),
            },
        ),
        Architecture(
            "mini-gpt", "word", False, "adam",
            "word-level mini-GPT (TokenAndPositionEmbedding, causal TransformerBlock), Adam",
            {
                "tiny": Preset(16, 32, 64, 1, heads=2, max_tokens=1000, batch_size=16, lr=1e-3),
                "small": Preset(80, 128, 256, 1, heads=2, max_tokens=10_000, lr=1e-3, dropout=0.1),
                "medium": Preset(128, 256, 512, 2, heads=4, max_tokens=20_000, lr=5e-4, dropout=0.1),
            },
        ),
    )
}


def architecture(name: str) -> Architecture:
    """The architecture called `name` (ValueError naming the choices)."""
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {name!r}; choose one of {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[name]


def preset(arch: str, name: str) -> Preset:
    """The preset `name` of architecture `arch` (ValueError naming the choices)."""
    presets = architecture(arch).presets
    if name not in presets:
        raise ValueError(f"unknown preset {name!r} for {arch}; choose one of {', '.join(presets)}")
    return presets[name]


def build_model(arch: str, shape: Preset, vocab_size: int):  # -> keras.Model
    """A compiled Keras model of architecture `arch` with shape `shape` over `vocab_size` tokens."""
    from scribe.keras_models.env import import_keras

    keras = import_keras()
    spec = architecture(arch)
    inputs = keras.Input(shape=(None,), dtype="int32", name="tokens")
    if spec.recurrent:
        x = keras.layers.Embedding(vocab_size, shape.embed_dim, name="embedding")(inputs)
        for i in range(shape.layers):
            last = i == shape.layers - 1
            x = keras.layers.LSTM(shape.units, return_sequences=True, dropout=0.0 if last else shape.dropout,
                                  name=HIDDEN if last else f"lstm_{i}")(x)
        optimizer = keras.optimizers.Adam(shape.lr, clipnorm=1.0)
    else:
        from scribe.keras_models.layers import PositionalEmbedding, TransformerBlock, TransformerDecoder

        x = PositionalEmbedding(shape.sequence_length, vocab_size, shape.embed_dim, name="embedding")(inputs)
        for i in range(shape.layers):
            name = HIDDEN if i == shape.layers - 1 else f"block_{i}"
            if arch == "transformer-decoder":
                x = TransformerDecoder(shape.embed_dim, shape.units, shape.heads, shape.dropout, name=name)(x)
            else:
                x = TransformerBlock(shape.embed_dim, shape.heads, shape.units, shape.dropout, name=name)(x)
        if spec.optimizer == "rmsprop":
            optimizer = keras.optimizers.RMSprop(shape.lr)
        else:
            optimizer = keras.optimizers.Adam(shape.lr, clipnorm=1.0)
    outputs = keras.layers.Dense(vocab_size, name=LOGITS)(x)
    model = keras.Model(inputs, outputs, name=arch.replace("-", "_"))
    model.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model
