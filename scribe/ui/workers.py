"""The work the TUI hands to threads besides generating (`scribe.studio.generation` streams a run): loading a model
(and hashing its weights), counting and scoring tokens, closing a model.

These functions run in Textual thread workers. They touch no widget: results go back through messages
(`scribe.ui.messages`). One lock (`backend_lock`) serialises every use of a backend, which is not thread-safe.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from scribe.engine.base import Backend, TokenScore
from scribe.studio.fingerprint import weights_hash
from scribe.ui import heap


def load_backend(name: str, *, device: str, dtype: str, trust_remote_code: bool,
                 notice: Callable[[str], None] | None = None) -> Backend:
    """Load a model by name or path (imports the registry, and with it the heavy libraries, only now); `notice` gets
    the line to show while a slow load runs (`Backend.loading_notice`)."""
    from scribe.engine.registry import load_model

    return load_model(name, device=device, dtype=dtype, trust_remote_code=trust_remote_code, notice=notice)


def score_with(backend: Backend, text: str, before_cursor: str, backend_lock: threading.Lock) -> tuple[list[TokenScore], int]:
    """Per-token log-probabilities of `text` and the number of tokens of `before_cursor` (the perplexity lens)."""
    with backend_lock:
        return backend.score(text), backend.count_tokens(before_cursor)


def model_weights_hash(backend: Backend, cache_dir: Path) -> str | None:
    """sha256 of a loaded model's weights (cached by file path, size and time), None when it cannot be read."""
    try:
        return weights_hash(backend.info.location, cache_dir)
    except OSError:
        return None


def close_backend(backend: Backend, backend_lock: threading.Lock) -> None:
    """Release a model once no stream uses it (its objects first go back to the garbage collector's care)."""
    with backend_lock:
        heap.thaw()
        backend.close()
