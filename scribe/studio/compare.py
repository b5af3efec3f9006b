"""Comparing continuations of the same prompt: where do they first differ?"""

from __future__ import annotations

from collections.abc import Sequence


def first_divergence(texts: Sequence[str]) -> int | None:
    """The first character offset at which the texts do not all agree; None when they are all the same.

    A text that ends where the others go on diverges at its end.
    """
    if len(set(texts)) <= 1:
        return None
    shortest = min(len(t) for t in texts)
    for offset in range(shortest):
        if len({t[offset] for t in texts}) > 1:
            return offset
    return shortest


def token_at(pieces: Sequence[str], offset: int) -> int:
    """The index of the token (given as its text pieces) that holds character `offset` (len(pieces) past the end)."""
    end = 0
    for index, piece in enumerate(pieces):
        end += len(piece)
        if offset < end:
            return index
    return len(pieces)
