"""Fixtures shared by every test: the read-only shared data folder, and a private SCRIBE_HOME per test."""

from __future__ import annotations

from pathlib import Path

import pytest


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
