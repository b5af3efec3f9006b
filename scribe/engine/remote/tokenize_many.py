"""Many texts counted in one request to llama.cpp's `POST /tokenize`, which takes one text: the texts are sent joined,
with `with_pieces`, and each text's tokens are those whose pieces fall inside it.

A text's count is taken from the joined answer only where its start and its end fall between two tokens (no token
spans two texts); it is then the tokens inside it plus those the server adds before any text it tokenizes (a
SentencePiece model's leading space: the bytes the pieces have beyond the joined text's). A text whose edge falls
inside a token, or an answer of another shape, leaves the count to one request of its own (None here).
"""

from __future__ import annotations

from itertools import accumulate
from typing import TYPE_CHECKING, Any

from scribe.engine.remote import shapes

if TYPE_CHECKING:
    import httpx


def _bytes(piece: Any, where: str) -> int:
    """The UTF-8 length of a token's piece: a string, or a list of byte values (part of a character)."""
    if isinstance(piece, list):
        return len(piece)
    return len(shapes.text(piece, where).encode("utf-8"))


def tokenize_many(client: httpx.Client, url: str, texts: list[str]) -> list[int | None] | None:
    """Each text's tokens from one `/tokenize` request at `url` (None for a text to count alone; None for all when
    the server does not answer with pieces)."""
    joined = "".join(texts)
    response = client.post(url, json={"content": joined, "with_pieces": True})
    if response.status_code != 200:
        return None
    tokens = shapes.array(shapes.obj(response.json(), "the token list").get("tokens"), "tokens")
    if not all(isinstance(token, dict) and "piece" in token for token in tokens):
        return None  # a server without pieces (ids only)
    ends = list(accumulate(_bytes(token["piece"], f"tokens[{i}].piece") for i, token in enumerate(tokens)))
    added = (ends[-1] if ends else 0) - len(joined.encode("utf-8"))
    boundaries = {0: 0, **{end: i + 1 for i, end in enumerate(ends)}}  # byte offset -> tokens before it
    if added < 0 or added not in boundaries:
        return None
    extra = boundaries[added]
    counts: list[int | None] = []
    start = added
    for text in texts:
        end = start + len(text.encode("utf-8"))
        first, last = boundaries.get(start), boundaries.get(end)
        aligned = text and first is not None and last is not None  # "" alone may get no leading space: asked alone
        counts.append(last - first + extra if aligned else None)  # type: ignore[operator]
        start = end
    return counts
