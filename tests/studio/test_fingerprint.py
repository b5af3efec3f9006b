"""Weight hashes: the sha256 of the file, computed once per file version."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from scribe.studio.fingerprint import CACHE_FILE, weights_hash


def test_one_file_hashes_to_its_sha256_and_is_cached(tiny_model_dir: Path, tmp_path: Path) -> None:
    folder = tiny_model_dir
    expected = hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()
    assert weights_hash(folder, tmp_path) == expected
    cache = json.loads((tmp_path / CACHE_FILE).read_text())
    assert [entry["sha256"] for entry in cache.values()] == [expected]


def test_a_changed_file_is_hashed_again_and_several_files_combine(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    shard = model / "model-1.safetensors"
    shard.write_bytes(b"one")
    cache = tmp_path / "cache"
    first = weights_hash(model, cache)
    assert first == hashlib.sha256(b"one").hexdigest()
    shard.write_bytes(b"two")
    os.utime(shard, ns=(1, 1))
    assert weights_hash(model, cache) == hashlib.sha256(b"two").hexdigest()
    (model / "model-2.safetensors").write_bytes(b"three")
    combined = weights_hash(model, cache)
    assert combined not in (None, first) and len(combined) == 64
    assert weights_hash(tmp_path / "nothing-here", cache) is None
