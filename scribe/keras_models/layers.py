"""The custom Keras layers of the Transformer models, registered for `keras.saving.load_model`.

Importing this module imports Keras (and TensorFlow). To reload a Transformer `.keras` file in plain Keras, import this
module first (it registers the layers under the package name "scribe"), then call `keras.saving.load_model(path)`.
"""

from __future__ import annotations

from scribe.keras_models.env import import_keras

keras = import_keras()
ops = keras.ops


@keras.saving.register_keras_serializable(package="scribe")
class PositionalEmbedding(keras.layers.Layer):
    """Token embedding plus a learned embedding of each position (at most `sequence_length` positions).

    The mini-GPT's TokenAndPositionEmbedding is the same computation, so both Transformer models use this layer."""

    def __init__(self, sequence_length: int, vocab_size: int, embed_dim: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.sequence_length, self.vocab_size, self.embed_dim = sequence_length, vocab_size, embed_dim
        self.token_embeddings = keras.layers.Embedding(vocab_size, embed_dim, name="token_embeddings")
        self.position_embeddings = keras.layers.Embedding(sequence_length, embed_dim, name="position_embeddings")

    def build(self, input_shape) -> None:
        self.token_embeddings.build(input_shape)
        self.position_embeddings.build((input_shape[-1],))
        super().build(input_shape)

    def call(self, inputs):
        positions = ops.arange(0, ops.shape(inputs)[-1], dtype="int32")
        return self.token_embeddings(inputs) + self.position_embeddings(positions)

    def get_config(self) -> dict:
        return {**super().get_config(), "sequence_length": self.sequence_length, "vocab_size": self.vocab_size,
                "embed_dim": self.embed_dim}


def _feed_forward(embed_dim: int, dense_dim: int, name: str):
    return keras.Sequential(
        [keras.layers.Dense(dense_dim, activation="relu"), keras.layers.Dense(embed_dim)], name=name
    )


@keras.saving.register_keras_serializable(package="scribe")
class TransformerDecoder(keras.layers.Layer):
    """The decoder block of "Deep Learning with Python" (self-attention, a second attention, a feed-forward network,
    each followed by a residual connection and layer normalisation), used as a language model: there is no encoder,
    so the second attention reads the block's own sequence, and both attentions are causal (no position sees a later
    one). `dropout` applies, as in KerasHub's TransformerDecoder, to the attention weights and to each sublayer's
    output before its residual connection."""

    def __init__(self, embed_dim: int, dense_dim: int, num_heads: int, dropout: float = 0.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.embed_dim, self.dense_dim, self.num_heads, self.dropout = embed_dim, dense_dim, num_heads, dropout
        key_dim = embed_dim // num_heads
        self.attention_1 = keras.layers.MultiHeadAttention(num_heads, key_dim, dropout=dropout, name="attention_1")
        self.attention_2 = keras.layers.MultiHeadAttention(num_heads, key_dim, dropout=dropout, name="attention_2")
        self.dense_proj = _feed_forward(embed_dim, dense_dim, "dense_proj")
        self.norms = [keras.layers.LayerNormalization(name=f"norm_{i}") for i in range(3)]
        self.dropouts = [keras.layers.Dropout(dropout) for _ in range(3)]

    def build(self, input_shape) -> None:
        for attention in (self.attention_1, self.attention_2):
            attention.build(input_shape, input_shape)
        self.dense_proj.build(input_shape)
        for norm in self.norms:
            norm.build(input_shape)
        super().build(input_shape)

    def call(self, inputs, training=None):
        attended = self.attention_1(inputs, inputs, use_causal_mask=True, training=training)
        x = self.norms[0](inputs + self.dropouts[0](attended, training=training))
        attended = self.attention_2(x, inputs, use_causal_mask=True, training=training)
        x = self.norms[1](x + self.dropouts[1](attended, training=training))
        return self.norms[2](x + self.dropouts[2](self.dense_proj(x), training=training))

    def get_config(self) -> dict:
        return {**super().get_config(), "embed_dim": self.embed_dim, "dense_dim": self.dense_dim,
                "num_heads": self.num_heads, "dropout": self.dropout}


@keras.saving.register_keras_serializable(package="scribe")
class TransformerBlock(keras.layers.Layer):
    """The mini-GPT block of the Keras example: causal self-attention and a feed-forward network, each with dropout,
    a residual connection and layer normalisation."""

    def __init__(self, embed_dim: int, num_heads: int, ff_dim: int, dropout: float = 0.1, **kwargs) -> None:
        super().__init__(**kwargs)
        self.embed_dim, self.num_heads, self.ff_dim, self.dropout = embed_dim, num_heads, ff_dim, dropout
        self.attention = keras.layers.MultiHeadAttention(num_heads, embed_dim // num_heads, name="attention")
        self.ffn = _feed_forward(embed_dim, ff_dim, "ffn")
        self.norm_1 = keras.layers.LayerNormalization(epsilon=1e-6, name="norm_1")
        self.norm_2 = keras.layers.LayerNormalization(epsilon=1e-6, name="norm_2")
        self.dropout_1 = keras.layers.Dropout(dropout)
        self.dropout_2 = keras.layers.Dropout(dropout)

    def build(self, input_shape) -> None:
        self.attention.build(input_shape, input_shape)
        self.ffn.build(input_shape)
        self.norm_1.build(input_shape)
        self.norm_2.build(input_shape)
        super().build(input_shape)

    def call(self, inputs, training=None):
        attended = self.attention(inputs, inputs, use_causal_mask=True, training=training)
        x = self.norm_1(inputs + self.dropout_1(attended, training=training))
        return self.norm_2(x + self.dropout_2(self.ffn(x), training=training))

    def get_config(self) -> dict:
        return {**super().get_config(), "embed_dim": self.embed_dim, "num_heads": self.num_heads,
                "ff_dim": self.ff_dim, "dropout": self.dropout}
