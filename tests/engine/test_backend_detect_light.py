"""Every backend's `detect` is reached without a model library: a fresh interpreter that asks each registered backend
about a file and a folder imports none of torch, transformers, TensorFlow, Keras, llama_cpp or httpx, so the model
list can let the registry decide every kind (issue 12 §4)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "transformers", "tensorflow", "keras", "llama_cpp", "httpx")


def test_every_backends_detect_imports_no_model_library(tmp_path: Path) -> None:
    (tmp_path / "weights.gguf").write_bytes(b"GGUF")
    script = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from scribe import backend_plugins\n"
        f"folder = Path({str(ROOT / 'models' / 'scribe-gutenberg')!r})\n"
        f"file = Path({str(tmp_path / 'weights.gguf')!r})\n"
        "claims = {name: [backend_plugins.backend_class(name).detect(folder), backend_plugins.backend_class(name).detect(file)]\n"
        "          for name in backend_plugins.backend_names()}\n"
        f"print(json.dumps([claims, sorted(m for m in {HEAVY!r} if m in sys.modules)]))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=120,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    claims, heavy = json.loads(done.stdout.strip().splitlines()[-1])
    assert {"transformers", "gguf", "keras", "remote"} <= set(claims)
    assert claims["transformers"] == [True, False] and claims["gguf"] == [False, True]
    assert claims["keras"] == claims["remote"] == [False, False]
    assert heavy == []
