"""Fixtures for the reliability tests: settings that load no model (the studio opens at once), and notifications."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from textual.app import App

from scribe.config import Settings

SIZE = (110, 32)


@pytest.fixture
def settings() -> Settings:
    """A model that does not exist (nothing heavy is imported) and no timer autosaves during a test."""
    return Settings(model="/nonexistent/reliability-model", device="cpu", dtype="float32", autosave_seconds=3600.0)


@pytest.fixture
def messages() -> Callable[[App], list[str]]:
    """A function giving the messages of the notifications an app is showing."""
    return lambda app: [n.message for n in app._notifications]
