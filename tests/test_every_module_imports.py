"""Every module of the package imports (a name moved by one change and still imported by another fails here, not
when a writer opens the screen that uses it)."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import scribe

MODULES = sorted(m.name for m in pkgutil.walk_packages(scribe.__path__, "scribe.") if not m.name.endswith("__main__"))


@pytest.mark.parametrize("name", MODULES)
def test_module_imports(name: str) -> None:
    importlib.import_module(name)
