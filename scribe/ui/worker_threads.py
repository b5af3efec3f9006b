"""A thread of its own for each of the studio's thread workers.

Textual runs thread workers in the event loop's default executor, a thread pool whose threads outlive the work. A
thread that ran torch's parallel work keeps a GNU OpenMP team while it lives, and once OpenMP manages more threads
than there are cores it cuts every spin short, so every parallel region waits as if passively: in the studio
(GPT-2-124M shape, 2 cores), a continuation streamed at 42 tokens/s, the third one (on another pool thread) at 32.
With a new thread per worker, the team goes with the thread when the work ends, and only the running work holds one.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable


class ThreadPerTask(ThreadPoolExecutor):
    """An executor that runs each call in a new thread that ends with it (a ThreadPoolExecutor by type, which asyncio
    asks of a default executor). `shutdown(wait=True)` waits for the calls still running, as a pool does."""

    def __init__(self) -> None:
        super().__init__(max_workers=1)
        self._running: set[threading.Thread] = set()
        self._lock = threading.Lock()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()

        def run() -> None:
            try:
                if future.set_running_or_notify_cancel():
                    try:
                        result = fn(*args, **kwargs)
                    except BaseException as exc:  # handed to whoever awaits the future, as a pool does
                        future.set_exception(exc)
                    else:
                        future.set_result(result)
            finally:
                with self._lock:
                    self._running.discard(thread)

        thread = threading.Thread(target=run, name="scribe-worker")
        with self._lock:
            self._running.add(thread)
        thread.start()
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if wait:
            with self._lock:
                running = list(self._running)
            for thread in running:
                thread.join()
        super().shutdown(wait=wait, cancel_futures=cancel_futures)
