"""Check that `pip install scribe` works on each platform scribe supports, from this machine.

pip's `--platform` picks wheels for another platform but evaluates environment markers for this one, so the markers in
pyproject.toml are evaluated here with `packaging` for each platform's environment; then pip resolves the requirements
they select, pinned by constraints.txt, against the index for that platform (`--dry-run`: nothing is installed, and
indexes that publish wheel metadata download nothing big).

    python .ci/check_platforms.py            # exit status 1 and the pip error when a platform has no wheel
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[1]
# Each platform's environment markers; its wheel tags are the key and, for Linux, the older manylinux tags pip would
# also accept there (pip does not expand an explicit manylinux `--platform`).
PLATFORMS = {
    "macosx_14_0_arm64": {"sys_platform": "darwin", "platform_system": "Darwin", "platform_machine": "arm64"},
    "manylinux_2_28_x86_64": {"sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64"},
    "win_amd64": {"sys_platform": "win32", "platform_system": "Windows", "platform_machine": "AMD64"},
}
PYTHON = "3.11"


def requirements() -> list[Requirement]:
    """scribe's dependencies as pyproject.toml declares them."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return [Requirement(line) for line in project["dependencies"]]


def selected(markers: dict[str, str]) -> list[Requirement]:
    """The requirements whose markers hold where `markers` do (on Python 3.11), markers removed."""
    environment = {**markers, "python_version": PYTHON, "python_full_version": f"{PYTHON}.0"}
    chosen = []
    for requirement in requirements():
        if requirement.marker is None or requirement.marker.evaluate(environment):
            requirement.marker = None
            chosen.append(requirement)
    return chosen


def tags(platform: str) -> list[str]:
    """pip's `--platform` options for `platform`."""
    wheel_tags = [platform]
    if platform.startswith("manylinux_2_28_"):
        machine = platform.removeprefix("manylinux_2_28_")
        wheel_tags += [f"manylinux_2_{minor}_{machine}" for minor in range(27, 16, -1)] + [f"manylinux2014_{machine}"]
    return [option for tag in wheel_tags for option in ("--platform", tag)]


def check(platform: str) -> subprocess.CompletedProcess[str]:
    """pip resolves the selected requirements for `platform` (binary wheels only), without installing anything."""
    with tempfile.TemporaryDirectory() as target:
        return subprocess.run(
            [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--ignore-installed", "--no-deps",
             "--only-binary=:all:", *tags(platform), "--python-version", PYTHON, "--target", target,
             "-c", str(REPO / "constraints.txt"), *(str(r) for r in selected(PLATFORMS[platform]))],
            capture_output=True, text=True,
        )


def main() -> int:
    failed = 0
    for platform in PLATFORMS:
        result = check(platform)
        tensorflow = [r.name for r in selected(PLATFORMS[platform]) if r.name.startswith("tensorflow")]
        print(f"{platform}: {'ok' if result.returncode == 0 else 'FAILED'} ({', '.join(tensorflow)})")
        if result.returncode:
            failed = 1
            print(result.stderr.strip(), file=sys.stderr)
    return failed


if __name__ == "__main__":
    sys.exit(main())
