"""The studio's main screen: Textual's, drawing a change at once when its frames have fallen behind."""

from __future__ import annotations

from scribe.ui.textual_private import CatchUpFrames


class StudioScreen(CatchUpFrames):
    """Textual draws a screen's changes from a timer on a 60 Hz grid. When a frame ends after the next grid point (a
    frame takes 5-15 ms while a model streams, and the event loop has other work), Textual's timer skips ahead to the
    grid point after next, so the next change waited 17-33 ms to be drawn: a third of a keypress's echo at the 90th
    percentile (`bench/ui_latency.py`). This screen's timer does not skip: a change that comes while the frames are
    behind is drawn at once, and frames still come only when something changed."""
