"""The work the TUI hands to threads: loading a model (and hashing its weights), streaming a continuation, counting
and scoring tokens, autosaving.

These functions run in Textual thread workers. They touch no widget: results go back through messages
(`scribe.ui.messages`) or, for streamed tokens, through a `TokenBuffer` the app drains about 30 times a second.
One lock (`backend_lock`) serialises every use of a backend, which is not thread-safe.
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from scribe.engine.base import Backend, EngineError, StreamEnd, TokenScore, TokenStep
from scribe.sampling.params import SamplingParams
from scribe.studio.fingerprint import weights_hash
from scribe.studio.prose import ProseJoiner, join_prose
from scribe.ui import heap

_run_ids = itertools.count(1)


class TokenBuffer:
    """Stream items handed from the generating thread to the UI thread."""

    def __init__(self) -> None:
        self._items: deque[TokenStep | StreamEnd] = deque()
        self._lock = threading.Lock()

    def push(self, item: TokenStep | StreamEnd) -> None:
        """Add one item (generating thread)."""
        with self._lock:
            self._items.append(item)

    def drain(self) -> list[TokenStep | StreamEnd]:
        """Take everything pushed so far (UI thread)."""
        with self._lock:
            items = list(self._items)
            self._items.clear()
        return items


@dataclass
class GenerationRun:
    """One continuation request: what to continue, how, and the handles to cancel and collect it."""

    prompt: str = field(repr=False)
    params: SamplingParams
    alternatives: int
    id: int = field(default_factory=lambda: next(_run_ids))
    cancel: threading.Event = field(default_factory=threading.Event, repr=False)
    buffer: TokenBuffer = field(default_factory=TokenBuffer, repr=False)
    attempt: int = 0
    """0 for a first continuation, n for the n-th regeneration of the same prompt."""
    node_id: str | None = None
    """The branch-tree node this run fills."""
    prose: bool = False
    """Join the line breaks the model puts inside paragraphs (`scribe.studio.prose`); the joins with the prompt and
    carriage returns are fixed either way."""


def load_backend(name: str, *, device: str, dtype: str, trust_remote_code: bool,
                 notice: Callable[[str], None] | None = None) -> Backend:
    """Load a model by name or path (imports the registry, and with it the heavy libraries, only now); `notice` gets
    the line to show while a slow load runs (`Backend.loading_notice`)."""
    from scribe.engine.registry import load_model

    return load_model(name, device=device, dtype=dtype, trust_remote_code=trust_remote_code, notice=notice)


class _Feed:
    """Puts one run's stream items into its buffer with the prose joins; remembers what streamed, so a failure can
    still end the run with its text."""

    def __init__(self, run: GenerationRun) -> None:
        self.run = run
        self.started = time.perf_counter()
        self.tokens = 0
        self.text: list[str] = []
        self.joiner = ProseJoiner(run.prompt, join_lines=run.prose)
        self.ended = False

    def push(self, item: TokenStep | StreamEnd) -> None:
        if isinstance(item, TokenStep):
            self.tokens += 1
            self.text.append(item.text)
            item = dataclasses.replace(item, text=self.joiner.feed(item.text))
        else:
            self.ended = True
            item = dataclasses.replace(item, text=join_prose(self.run.prompt, item.text, join_lines=self.run.prose))
        self.run.buffer.push(item)

    def fail(self, exc: BaseException) -> None:
        run = self.run
        self.ended = True
        run.buffer.push(
            StreamEnd(reason="error", text=join_prose(run.prompt, "".join(self.text), join_lines=run.prose),
                      tokens=self.tokens, prompt_tokens=0, elapsed_s=time.perf_counter() - self.started,
                      first_token_s=0.0, error=describe_error(exc))
        )


def stream_into(backend: Backend, run: GenerationRun, backend_lock: threading.Lock) -> None:
    """Stream `run` into its buffer; any failure becomes a StreamEnd with reason "error"."""
    feed = _Feed(run)
    try:
        with backend_lock:
            for item in backend.stream(run.prompt, run.params, alternatives=run.alternatives, cancel=run.cancel):
                feed.push(item)
    except Exception as exc:  # a model failing mid-stream must not take the editor down
        feed.fail(exc)


def stream_many_into(backend: Backend, runs: list[GenerationRun], backend_lock: threading.Lock) -> None:
    """Stream drafts of one prompt (`runs[0]`'s prompt, alternatives and cancel event; each run its own settings) into
    their buffers through `backend.stream_many` (one batched decode where the backend can); a failure ends every
    unfinished run with an error."""
    feeds = [_Feed(run) for run in runs]
    first = runs[0]
    try:
        with backend_lock:
            for row, item in backend.stream_many(first.prompt, [run.params for run in runs],
                                                 alternatives=first.alternatives, cancel=first.cancel):
                feeds[row].push(item)
    except Exception as exc:  # a model failing mid-stream must not take the editor down
        for feed in feeds:
            if not feed.ended:
                feed.fail(exc)


def collect(backend: Backend, prompt: str, params: SamplingParams, alternatives: int, backend_lock: threading.Lock,
            cancel: threading.Event | None = None, *, prose: bool = False) -> tuple[list[TokenStep], StreamEnd]:
    """Run one stream to its end and return its tokens and its end (replay, compare)."""
    run = GenerationRun(prompt=prompt, params=params, alternatives=alternatives, cancel=cancel or threading.Event(),
                        prose=prose)
    stream_into(backend, run, backend_lock)
    items = run.buffer.drain()
    steps = [item for item in items if isinstance(item, TokenStep)]
    end = next(item for item in items if isinstance(item, StreamEnd))
    return steps, end


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


def count_tokens(backend: Backend, text: str, backend_lock: threading.Lock) -> int | None:
    """Tokens in `text`, or None when the backend is busy generating (the count is redone afterwards)."""
    if not backend_lock.acquire(blocking=False):
        return None
    try:
        return backend.count_tokens(text)
    finally:
        backend_lock.release()


def close_backend(backend: Backend, backend_lock: threading.Lock) -> None:
    """Release a model once no stream uses it (its objects first go back to the garbage collector's care)."""
    with backend_lock:
        heap.thaw()
        backend.close()


def describe_error(exc: BaseException) -> str:
    """A one-line message for the status bar; engine errors speak for themselves."""
    message = _one_line(exc)
    return message if isinstance(exc, EngineError) else f"{type(exc).__name__}: {message}"


def _one_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."

