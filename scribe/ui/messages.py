"""Messages the thread workers post to the app. Workers never touch widgets; the app's handlers own the state."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.message import Message

if TYPE_CHECKING:
    from scribe.engine.base import Backend, TokenScore


class ModelLoaded(Message):
    """A model finished loading (request `request`; stale requests are closed and ignored), with the sha256 of its
    weights (None when unknown, as for a remote model)."""

    def __init__(self, request: int, backend: "Backend", weights_hash: str | None = None,
                 recommended: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.request = request
        self.backend = backend
        self.weights_hash = weights_hash
        self.recommended = recommended or {}
        """The sampling settings the model's folder recommends."""


class ModelFailed(Message):
    """A model could not be loaded; `error` says why in one line."""

    def __init__(self, request: int, error: str) -> None:
        super().__init__()
        self.request = request
        self.error = error


class TokensCounted(Message):
    """The number of tokens before the cursor, for count request `request`."""

    def __init__(self, request: int, count: int) -> None:
        super().__init__()
        self.request = request
        self.count = count


class AutosaveFailed(Message):
    """Writing the autosave journal failed (disk full, permissions)."""

    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error


class TextScored(Message):
    """Per-token log-probabilities of the text for lens request `request`, or why there are none."""

    def __init__(self, request: int, scores: "list[TokenScore]", prompt_tokens: int, error: str | None = None) -> None:
        super().__init__()
        self.request = request
        self.scores = scores
        self.prompt_tokens = prompt_tokens
        """Tokens of the text before the cursor (what a continuation would be given)."""
        self.error = error


class Replayed(Message):
    """A branch was regenerated from its record; `text` is what came out (`error` when it failed)."""

    def __init__(self, node_id: str, text: str, error: str | None) -> None:
        super().__init__()
        self.node_id = node_id
        self.text = text
        self.error = error
