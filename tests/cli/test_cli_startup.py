"""What the command line imports before it answers: `--help` and `models list` import no model library, and
`generate` on the bundled GPT-2 imports torch but not transformers, TensorFlow or httpx (issue #19, §5)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "transformers", "tensorflow", "keras", "httpx", "huggingface_hub", "textual")


def imported_by(args: list[str], home: Path) -> tuple[list[str], str]:
    """The heavy modules a fresh interpreter holds after `scribe ARGS` ran, and what it printed."""
    script = (
        "import sys, json\n"
        "from scribe.cli import main\n"
        "try:\n"
        f"    code = main({args!r})\n"
        "except SystemExit as exc:\n"
        "    code = exc.code\n"
        f"print(json.dumps([code, sorted(m for m in {HEAVY!r} if m in sys.modules)]), file=sys.stderr)\n"
    )
    env = {**os.environ, "SCRIBE_HOME": str(home), "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=300)
    code, modules = json.loads(done.stderr.strip().splitlines()[-1])
    assert code in (0, None), done.stderr
    return modules, done.stdout


@pytest.mark.parametrize("args", [["--help"], ["generate", "--help"], ["models", "list"]])
def test_help_and_the_model_list_import_no_model_library(tmp_path: Path, args: list[str]) -> None:
    modules, out = imported_by(args, tmp_path)
    assert modules == []
    assert ("usage: scribe" in out) if "--help" in args else ("scribe-gutenberg" in out)


def test_generate_on_the_bundled_model_imports_torch_only(tmp_path: Path) -> None:
    args = ["generate", "-m", str(ROOT / "models" / "scribe-gutenberg"), "-p", "Once upon a time",
            "--max-new-tokens", "5", "--seed", "7"]
    modules, out = imported_by(args, tmp_path)
    assert modules == ["torch"]
    assert out.strip()  # the continuation was printed
