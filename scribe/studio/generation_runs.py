"""One continuation request and how it is streamed: a worker thread pushes the stream's items into the run's buffer
(with the prose joins), and the thread that shows them takes them out (`scribe.studio.generation`).

Nothing here knows about a UI: the TUI runs `stream_into` in a Textual thread worker, the tests in a plain thread.
Every failure becomes a `StreamEnd` with reason "error" and the text so far, so a run always ends exactly once.
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from scribe.engine.base import Backend, EngineError, StreamEnd, TokenStep
from scribe.engine.streaming import one_line
from scribe.sampling.params import SamplingParams
from scribe.studio.prose import ProseJoiner, join_prose

_run_ids = itertools.count(1)


class TokenBuffer:
    """Stream items handed from the generating thread to the thread that shows them."""

    def __init__(self) -> None:
        self._items: deque[TokenStep | StreamEnd] = deque()
        self._lock = threading.Lock()
        self._ended = False

    def push(self, item: TokenStep | StreamEnd) -> None:
        """Add one item (generating thread)."""
        with self._lock:
            self._items.append(item)
            self._ended = self._ended or isinstance(item, StreamEnd)

    def drain(self) -> list[TokenStep | StreamEnd]:
        """Take everything pushed so far (showing thread)."""
        with self._lock:
            items = list(self._items)
            self._items.clear()
        return items

    @property
    def ended(self) -> bool:
        """True once the stream's end was pushed (it may not have been taken yet)."""
        return self._ended


@dataclass
class GenerationRun:
    """One continuation request: what to continue, how, the handles to cancel and collect it, and what was taken
    from its buffer so far."""

    prompt: str = field(repr=False)
    params: SamplingParams
    alternatives: int
    id: int = field(default_factory=lambda: next(_run_ids))
    cancel: threading.Event = field(default_factory=threading.Event, repr=False)
    buffer: TokenBuffer = field(default_factory=TokenBuffer, repr=False)
    attempt: int = 0
    """0 for a first continuation, n for the n-th regeneration of the same prompt."""
    node_id: str | None = None
    """The branch-tree node this run fills (None for a run not kept in the tree: an instruct action's answer)."""
    prose: bool = False
    """Join the line breaks the model puts inside paragraphs (`scribe.studio.prose`); the joins with the prompt and
    carriage returns are fixed either way."""
    steps: list[TokenStep] = field(default_factory=list, repr=False)
    """The tokens taken from the buffer so far."""
    end: StreamEnd | None = None
    """How the stream ended, once that was taken from the buffer."""

    @property
    def text(self) -> str:
        """The text of the tokens taken so far."""
        return "".join(step.text for step in self.steps)

    @property
    def tokens_per_s(self) -> float | None:
        """Tokens per second of model time over the tokens taken so far (None before the first)."""
        busy = sum(step.elapsed_s for step in self.steps)
        return len(self.steps) / busy if busy > 0 else None


def describe_error(exc: BaseException) -> str:
    """A one-line message for a status bar; engine errors speak for themselves."""
    message = one_line(exc)
    return message if isinstance(exc, EngineError) else f"{type(exc).__name__}: {message}"


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


def fail_run(run: GenerationRun, exc: BaseException) -> None:
    """End `run`, which has not streamed yet, with reason "error" and `exc`'s message."""
    _Feed(run).fail(exc)


def stream_into(backend: Backend, run: GenerationRun, backend_lock: threading.Lock) -> None:
    """Stream `run` into its buffer; any failure becomes a StreamEnd with reason "error"."""
    feed = _Feed(run)
    try:
        with backend_lock:
            for item in backend.stream(run.prompt, run.params, alternatives=run.alternatives, cancel=run.cancel):
                feed.push(item)
    except Exception as exc:  # a model failing mid-stream must not take the caller down
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
    except Exception as exc:  # a model failing mid-stream must not take the caller down
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
