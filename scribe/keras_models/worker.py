"""The generation worker: `python -m scribe.keras_models.worker FOLDER` loads one Keras model and streams for its
parent (`scribe.engine.keras_backend.KerasBackend`), so TensorFlow never runs in the parent's process.

Protocol: pickled tuples, parent -> worker on stdin: ("stream", run_id, prompt, params, alternatives), then
("next", run_id) after each item received or ("cancel", run_id) (so the worker never runs ahead of the reader, and a
cancellation takes effect before the next token), ("analyse", run_id, ids, attentions), ("score", run_id, ids), ("close",). Worker -> parent on the original stdout: first
("ready", info fields) or ("error", message), then for each stream its TokenSteps and StreamEnd as
("item", run_id, item), for each analysis ("item", run_id, result) where result is what
`scribe.analysis.keras_pass.analysis_pass` returns, or an Exception it raised, and for each score request
("item", run_id, log-probabilities). File descriptors 1 and
2 both point at the log file the parent gave as stderr, so nothing TensorFlow prints can reach a terminal or corrupt
the protocol.
"""

from __future__ import annotations

import os
import pickle
import queue
import sys
import threading
from pathlib import Path
from collections.abc import Callable
from typing import Any, BinaryIO


def _reader(stream: BinaryIO, requests: "queue.Queue[tuple | None]", cancels: dict[int, threading.Event]) -> None:
    """Read requests; cancellations take effect at once, the rest wait their turn. None marks the end of input."""
    while True:
        try:
            message = pickle.load(stream)
        except (EOFError, OSError, pickle.UnpicklingError):
            requests.put(None)
            return
        if message[0] == "cancel":
            cancels.setdefault(message[1], threading.Event()).set()
            requests.put(("next", message[1]))  # the stream goes on to see the cancellation and end
        else:
            requests.put(message)


def _wait_for_next(requests: "queue.Queue[tuple | None]", run_id: int) -> tuple | None:
    """Block until the parent asks for the next item of stream `run_id` (None: the input ended)."""
    while (message := requests.get()) is not None:
        if message == ("next", run_id):
            return message
    return None


def main(argv: list[str]) -> int:
    """Load the model named on the command line and serve stream requests until told to close."""
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)

    def send(message: tuple[Any, ...]) -> None:
        pickle.dump(message, out, protocol=pickle.HIGHEST_PROTOCOL)
        out.flush()

    folder = Path(argv[1])
    try:
        from scribe.engine.base import ModelLoadError, StreamEnd
        from scribe.keras_models.saved import load_folder

        loaded = load_folder(folder)
        from scribe.keras_models.runtime import KerasGenerator

        generator = KerasGenerator(loaded.model, loaded.vocab, loaded.arch, loaded.shape)
    except ModelLoadError as exc:
        send(("error", str(exc)))
        return 1
    except Exception as exc:  # anything else while loading is reported to the parent, not lost in the log
        send(("error", f"{folder}: cannot load this Keras model: {type(exc).__name__}: {exc}"))
        return 1
    send(("ready", {"parameters": int(loaded.model.count_params())}))
    requests: queue.Queue[tuple | None] = queue.Queue()
    cancels: dict[int, threading.Event] = {}
    threading.Thread(target=_reader, args=(sys.stdin.buffer, requests, cancels), daemon=True).start()
    while (message := requests.get()) is not None and message[0] in ("stream", "analyse", "score"):
        try:
            if message[0] == "analyse":
                send(("item", message[1], _analyse(loaded, message[2], message[3])))
                continue
            if message[0] == "score":
                send(("item", message[1], _result(lambda: generator.score(message[2]))))
                continue
            _, run_id, prompt, params, alternatives = message
            cancel = cancels.setdefault(run_id, threading.Event())
            for item in generator.stream(prompt, params, alternatives=alternatives, cancel=cancel):
                send(("item", run_id, item))
                if not isinstance(item, StreamEnd) and _wait_for_next(requests, run_id) is None:
                    return 0
            cancels.pop(run_id, None)
        except BrokenPipeError:
            return 0
    return 0


def _analyse(loaded: Any, ids: list[int], attentions: bool) -> Any:
    """The analysis pass's result, or the exception it raised."""
    from scribe.analysis.keras_pass import analysis_pass

    return _result(lambda: analysis_pass(loaded.model, ids, attentions=attentions, banned=loaded.vocab.banned))


def _result(work: Callable[[], Any]) -> Any:
    """What `work` returns, or the exception it raised as a RuntimeError (sent back to be raised in the parent)."""
    try:
        return work()
    except Exception as exc:  # reported to the parent, which raises it where the work was asked for
        return RuntimeError(f"{type(exc).__name__}: {exc}")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
