"""Fixtures shared by every test: the read-only shared data folder, a private SCRIBE_HOME per test, and (on request)
a private Hugging Face cache and a hub on 127.0.0.1."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/, for the test servers
from servers.hub_server import HubServer  # noqa: E402


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The read-only shared test data (`<repo>/../shared/data`)."""
    return Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(autouse=True)
def scribe_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own SCRIBE_HOME, so no test reads or writes the real settings."""
    home = tmp_path / "scribe-home"
    monkeypatch.setenv("SCRIBE_HOME", str(home))
    return home


@pytest.fixture
def hf_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private Hugging Face cache (HF_HOME), with no token and no offline switch."""
    home = tmp_path / "hf-home"
    monkeypatch.setenv("HF_HOME", str(home))
    for name in ("HF_HUB_CACHE", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def hub(hf_home: Path, monkeypatch: pytest.MonkeyPatch):
    """A hub on 127.0.0.1 (HF_ENDPOINT points at it) downloading into `hf_home`; add repositories with
    `hub.add_folder`."""
    from huggingface_hub import constants

    # The CI runs with HF_HUB_OFFLINE=1, which huggingface_hub reads once at import; these tests talk to a local hub.
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    with HubServer() as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        yield server
