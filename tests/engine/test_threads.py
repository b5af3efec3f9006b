"""The process-wide CPU thread settings: passive OpenMP waiting unless the user chose, SCRIBE_THREADS."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from scribe.engine.threads import requested_threads


def test_passive_waiting_is_asked_for_only_when_nobody_chose() -> None:
    code = (
        "import json, os, sys\n"
        "from scribe.engine.threads import prepare_cpu_threads\n"
        "applied = prepare_cpu_threads()\n"
        "import torch\n"
        "print(json.dumps([applied, os.environ.get('OMP_WAIT_POLICY'), prepare_cpu_threads()]))\n"
    )
    env = {"PATH": "/usr/bin:/bin"}
    fresh = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert json.loads(fresh.stdout) == [True, "PASSIVE", False]  # torch imported: too late to change
    chosen = subprocess.run([sys.executable, "-c", code], env={**env, "OMP_WAIT_POLICY": "ACTIVE"},
                            capture_output=True, text=True, check=True)
    assert json.loads(chosen.stdout) == [False, "ACTIVE", False]


def test_scribe_threads() -> None:
    assert requested_threads({}) is None
    assert requested_threads({"SCRIBE_THREADS": " 3 "}) == 3
    for bad in ("0", "-1", "two"):
        with pytest.raises(ValueError, match="SCRIBE_THREADS"):
            requested_threads({"SCRIBE_THREADS": bad})


def test_loading_a_model_applies_scribe_threads(tiny_model_dir, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from scribe.engine.base import ModelLoadError
    from scribe.engine.transformers_backend import TransformersBackend

    before = torch.get_num_threads()
    try:
        monkeypatch.setenv("SCRIBE_THREADS", "1")
        backend = TransformersBackend.load(tiny_model_dir, device="cpu")
        assert torch.get_num_threads() == 1
        assert backend.info.extra["cpu_threads"] == "1"
        monkeypatch.setenv("SCRIBE_THREADS", "many")
        with pytest.raises(ModelLoadError, match="SCRIBE_THREADS"):
            TransformersBackend.load(tiny_model_dir, device="cpu")
    finally:
        torch.set_num_threads(before)


def test_intra_op_threads_sets_the_count_for_the_block_and_gives_it_back() -> None:
    import torch

    from scribe.engine.threads import intra_op_threads

    before = torch.get_num_threads()
    with intra_op_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with intra_op_threads(None):
        assert torch.get_num_threads() == before
    try:
        with intra_op_threads(1):
            raise RuntimeError("fails inside")
    except RuntimeError:
        pass
    assert torch.get_num_threads() == before
