"""How scribe writes a length of time for people: one format for elapsed times, ETAs and wall times everywhere (the
training bar and screen, evaluation progress, downloads, model cards). Imports nothing of scribe."""

from __future__ import annotations

import math

UNKNOWN = "--:--"
"""What an unknown duration (negative, infinite or not a number) is shown as."""


def format_duration(seconds: float) -> str:
    """`mm:ss` under an hour, `h:mm:ss` from an hour on, rounded down to the second (as tqdm and most progress
    bars write it): 5 -> "00:05", 78.9 -> "01:18", 3725 -> "1:02:05"."""
    if not math.isfinite(seconds) or seconds < 0:
        return UNKNOWN
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"
