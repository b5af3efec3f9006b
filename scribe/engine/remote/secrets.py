"""Keeping an API key out of every message: the whole key, and any piece of it long enough to matter (a server may
echo a key cut short, and a message may be shortened in the middle of one)."""

from __future__ import annotations

REDACTED = "[redacted]"
MIN_PIECE = 6
"""Runs of this many characters or more that occur in the key are removed (or the whole key, when it is shorter)."""


def redact(message: str, key: str | None) -> str:
    """`message` with every run of characters that also occurs in `key` (MIN_PIECE long or more) replaced."""
    if not key or not message:
        return message
    least = min(MIN_PIECE, len(key))
    covered = [False] * len(message)
    for i in range(len(message) - least + 1):
        if message[i : i + least] in key:
            end = i + least
            while end < len(message) and message[i : end + 1] in key:
                end += 1
            covered[i:end] = [True] * (end - i)
    parts: list[str] = []
    for i, char in enumerate(message):
        if not covered[i]:
            parts.append(char)
        elif i == 0 or not covered[i - 1]:
            parts.append(REDACTED)
    return "".join(parts)


def one_line(message: str, limit: int = 300) -> str:
    """`message` on one line, shortened to `limit` characters (redact it first: shortening may cut a key)."""
    flat = " ".join(message.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."
