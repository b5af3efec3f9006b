"""Messages the thread workers post to the app. Workers never touch widgets; the app's handlers own the state."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from scribe.engine.base import Backend


class ModelLoaded(Message):
    """A model finished loading (request `request`; stale requests are closed and ignored)."""

    def __init__(self, request: int, backend: "Backend") -> None:
        super().__init__()
        self.request = request
        self.backend = backend


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
