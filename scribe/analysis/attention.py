"""Attention weights of one token over the tokens before it, per layer and head, as plain Python data."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from scribe.engine.introspect import ForwardPass, IntrospectionUnavailable


@dataclass(frozen=True)
class AttentionRow:
    """Where token `position` looks: `weights[layer][head][key]` for keys 0..position (each row sums to 1)."""

    position: int
    tokens: tuple[str, ...]
    """The texts of tokens 0..position."""
    layer_names: tuple[str, ...]
    weights: tuple[tuple[tuple[float, ...], ...], ...]

    @property
    def heads(self) -> int:
        """Heads per layer."""
        return len(self.weights[0]) if self.weights else 0

    def row(self, layer: int, head: int | None) -> tuple[float, ...]:
        """The weights of one head, or their mean over the layer's heads when `head` is None."""
        heads = self.weights[layer]
        if head is not None:
            return heads[head]
        return tuple(sum(column) / len(heads) for column in zip(*heads))


def attention_at(analysed: ForwardPass, position: int) -> AttentionRow:
    """Token `position`'s attention (negative counts from the end); IntrospectionUnavailable without attention."""
    if analysed.attentions is None:
        raise IntrospectionUnavailable(analysed.no_attention or f"{analysed.model} returned no attention weights")
    count = len(analysed.ids)
    if not -count <= position < count:
        raise IndexError(f"position {position} is outside the {count} analysed tokens")
    position %= count
    weights = analysed.attentions[:, :, position, : position + 1].tolist()
    return AttentionRow(position=position, tokens=tuple(analysed.texts[: position + 1]),
                        layer_names=tuple(analysed.layer_names),
                        weights=tuple(tuple(tuple(head) for head in layer) for layer in weights))


def top_keys(weights: Sequence[float], count: int = 3) -> list[tuple[int, float]]:
    """The `count` most attended key positions with their weights, highest first."""
    return sorted(enumerate(weights), key=lambda pair: (-pair[1], pair[0]))[:count]


def entropy_bits(weights: Sequence[float]) -> float:
    """Entropy of one attention row in bits (0: all on one token; log2(n): spread evenly)."""
    return -sum(w * math.log2(w) for w in weights if w > 0)
