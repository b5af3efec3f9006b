"""The documents opened lately, newest first (for the studio's open prompt)."""

from __future__ import annotations

import json
from pathlib import Path

from scribe.studio.document import atomic_write

RECENT_LIMIT = 12
"""How many documents are remembered."""


def recent_file(data_dir: Path) -> Path:
    """Where the list is kept."""
    return data_dir / "recent.json"


def load_recent(data_dir: Path) -> list[Path]:
    """The documents opened lately that still exist, newest first (none when the list cannot be read)."""
    try:
        names = json.loads(recent_file(data_dir).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return []
    if not isinstance(names, list):
        return []
    return [Path(name) for name in names if isinstance(name, str) and Path(name).is_file()]


def remember(data_dir: Path, document: Path) -> None:
    """Put `document` first in the list (written atomically)."""
    document = document.absolute()
    paths = [document, *(p for p in load_recent(data_dir) if p != document)][:RECENT_LIMIT]
    data_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(recent_file(data_dir), (json.dumps([str(p) for p in paths], indent=1) + "\n").encode("utf-8"))
