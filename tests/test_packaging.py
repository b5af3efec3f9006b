"""pyproject.toml's platform markers pick the TensorFlow wheel each platform has (evaluated with `packaging`, as pip
does on that machine; `.ci/check_platforms.py` also asks the package index in CI)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / ".ci" / "check_platforms.py"
spec = importlib.util.spec_from_file_location("check_platforms", SCRIPT)
assert spec is not None and spec.loader is not None
check_platforms = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_platforms)


@pytest.mark.parametrize(("sys_platform", "machine", "tensorflow"), [
    ("linux", "x86_64", "tensorflow-cpu"),
    ("win32", "AMD64", "tensorflow-cpu"),
    ("darwin", "arm64", "tensorflow"),
    ("darwin", "x86_64", "tensorflow"),
    ("linux", "aarch64", "tensorflow"),
])
def test_each_platform_gets_exactly_one_tensorflow(sys_platform: str, machine: str, tensorflow: str) -> None:
    chosen = check_platforms.selected({"sys_platform": sys_platform, "platform_machine": machine,
                                       "platform_system": {"linux": "Linux", "win32": "Windows"}.get(sys_platform,
                                                                                                     "Darwin")})
    assert [r.name for r in chosen if r.name.startswith("tensorflow")] == [tensorflow]
    assert {"torch", "keras", "textual"} <= {r.name for r in chosen}

