"""Importing Keras quietly and without writing outside scribe's folders.

TensorFlow writes to the error stream (file descriptor 2) at import time, and some of it comes from C++ before any
Python logging setting applies, so the only sure way to keep it off a terminal is to point descriptor 2 elsewhere while
it imports. That is safe only in a process that draws nothing on descriptor 2 meanwhile: the training process and the
generation worker process (`scribe.keras_models.worker`), never the TUI (Textual draws on descriptor 2).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

from scribe.config import Paths


def keras_environment() -> dict[str, str]:
    """Environment variables for a process that uses Keras: the TensorFlow backend, Keras' own files under scribe's
    cache folder (KERAS_HOME; otherwise Keras writes ~/.keras), and TensorFlow's C++ log quietened."""
    return {
        "KERAS_BACKEND": "tensorflow",
        "KERAS_HOME": str(Paths.discover().cache / "keras"),
        "TF_CPP_MIN_LOG_LEVEL": "3",
    }


@contextlib.contextmanager
def stderr_to(path: Path | None) -> Iterator[None]:
    """Point file descriptor 2 at `path` (appending; os.devnull when None) for the duration of the block."""
    sys.stderr.flush()
    target = os.open(os.devnull if path is None else path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    saved = os.dup(2)
    try:
        os.dup2(target, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(target)


def import_keras(log: Path | None = None) -> ModuleType:
    """Import and return `keras` with the TensorFlow backend, TensorFlow's import-time output going to `log` (or
    nowhere). Call only in a process that shows nothing on its error stream while this runs (see the module doc)."""
    if "keras" in sys.modules:
        return sys.modules["keras"]
    for key, value in keras_environment().items():
        os.environ.setdefault(key, value)
    if os.environ["KERAS_BACKEND"] != "tensorflow":
        raise RuntimeError(f"scribe's Keras models need KERAS_BACKEND=tensorflow, not {os.environ['KERAS_BACKEND']!r}")
    Path(os.environ["KERAS_HOME"]).mkdir(parents=True, exist_ok=True)
    with stderr_to(log):
        import tensorflow as tf

        tf.get_logger().setLevel("ERROR")
        import keras
    return keras
