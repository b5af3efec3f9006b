"""Python's cyclic garbage collector, kept from freezing the UI.

A full (generation-2) collection walks every object the collector tracks, holding the GIL, so no thread runs Python
meanwhile, whichever thread triggered it. With torch, transformers and a model loaded that is about 500,000 objects:
each full collection took 250-400 ms on this project's 2-core machine, and while a model streams (every token and
every frame allocates) one came every 2-3 s, each a stall of the editor's echo as long (`bench/ui_latency.py`).

Nearly all of those objects live as long as the model: modules, classes, functions, the model's own objects. Once a
model is loaded, `settle` collects once and moves everything alive into the permanent generation (`gc.freeze`), so
later full collections walk only what the studio allocated since. Frozen objects are never collected, so `thaw`
gives them back to the collector before a model is let go (its reference cycles can then be freed), and every
`settle` starts with a thaw, so what died since the last one (a previous app in the same process) is freed too.
"""

from __future__ import annotations

import gc


def settle() -> None:
    """Collect everything, then leave all surviving objects out of later collections (after a model loads)."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def thaw() -> None:
    """Let the collector see every object again (before a model is released)."""
    gc.unfreeze()
