"""The fingerprint of a model's weights: sha256 of its weight file(s), computed once per file version.

Hashes are cached in `<cache>/weights-hashes.json` by absolute path, size and modification time, so loading the same
model again costs a `stat`, not a read of gigabytes.
"""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

from scribe.studio.document import atomic_write

WEIGHT_PATTERNS = ("*.safetensors", "pytorch_model*.bin", "*.keras", "*.gguf", "*.h5")
CACHE_FILE = "weights-hashes.json"
_lock = threading.Lock()


def weight_files(location: Path) -> list[Path]:
    """The weight files of a model folder (or the file itself), sorted by name."""
    if location.is_file():
        return [location]
    if not location.is_dir():
        return []
    found = {p for pattern in WEIGHT_PATTERNS for p in location.glob(pattern) if p.is_file()}
    return sorted(found, key=lambda p: p.name)


def file_sha256(file: Path) -> str:
    """sha256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with file.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def weights_hash(location: str | Path, cache_dir: Path) -> str | None:
    """sha256 of the one weight file, or of "name sha256" lines when there are several; None when there are none."""
    files = weight_files(Path(location))
    if not files:
        return None
    with _lock:
        cache_file = cache_dir / CACHE_FILE
        try:
            cache = json.loads(cache_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            cache = {}
        hashes, changed = [], False
        for file in files:
            stat = file.stat()
            key = str(file.resolve())
            entry = cache.get(key)
            if not (isinstance(entry, dict) and entry.get("size") == stat.st_size and entry.get("mtime_ns") == stat.st_mtime_ns):
                entry = cache[key] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": file_sha256(file)}
                changed = True
            hashes.append((file.name, entry["sha256"]))
        if changed:
            try:
                cache_dir.mkdir(parents=True, exist_ok=True)
                atomic_write(cache_file, json.dumps(cache, indent=1).encode("utf-8"))
            except OSError:
                pass  # a cache that cannot be written only costs a re-read next time
    if len(hashes) == 1:
        return hashes[0][1]
    return hashlib.sha256("".join(f"{name} {digest}\n" for name, digest in hashes).encode()).hexdigest()
