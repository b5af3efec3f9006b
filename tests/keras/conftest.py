"""Fixtures for the Keras model tests: a slice of Tiny Shakespeare and the four architectures trained on it once.

The four tiny models are trained in this process (TensorFlow loads once) for a few steps each; tests that change a
folder copy it first.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from scribe.keras_models.architectures import ARCHITECTURES


@pytest.fixture(scope="session")
def shakespeare_slice(tmp_path_factory: pytest.TempPathFactory, shakespeare_text: str) -> Path:
    """The first 40,000 characters of Tiny Shakespeare."""
    path = tmp_path_factory.mktemp("corpus") / "shakespeare.txt"
    path.write_text(shakespeare_text[:40_000], encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def trained(shakespeare_slice: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """Each architecture's tiny preset trained for 2 steps (then evaluated, sampled and saved): its folder,
    with the events of the run in `events.jsonl` beside it."""
    root = tmp_path_factory.mktemp("keras-models")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SCRIBE_HOME", str(root / "home"))
        from scribe.keras_models.train_config import KerasTrainConfig
        from scribe.keras_models.trainer import KerasTrainer

        folders = {}
        for arch in ARCHITECTURES:
            events: list[str] = []
            config = KerasTrainConfig(data=[str(shakespeare_slice)], output=root / arch, arch=arch, preset="tiny",
                                      max_steps=2, log_every=1, sample_tokens=8, seed=1)
            KerasTrainer(config, lambda event, kept=events: kept.append(event.to_json())).run()
            (root / f"{arch}.events.jsonl").write_text("\n".join(events) + "\n", encoding="utf-8")
            folders[arch] = root / arch
        yield folders


@pytest.fixture
def model_copy(trained: dict[str, Path], tmp_path: Path):
    """A function copying a trained folder into this test's tmp dir (for tests that damage it)."""
    def copy(arch: str) -> Path:
        return Path(shutil.copytree(trained[arch], tmp_path / arch))
    return copy
