"""Every Textual private name scribe uses still exists in the installed Textual (they live in one module,
`scribe.ui.textual_private`); a Textual upgrade that renames one fails here, naming it."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

SCRIBE = Path(__file__).resolve().parents[2] / "scribe"


def owner(path: str) -> object:
    """A module, a class (`textual.widgets.Footer`) or an instance of one (`textual.timer.Timer()`)."""
    from textual.app import App
    from textual.timer import Timer

    instances = {"textual.timer.Timer()": lambda: Timer(App(), 1.0, name="probe", pause=True),
                 "textual.app.App()": App,
                 "textual.widgets._footer.FooterKey()": lambda: owner("textual.widgets._footer.FooterKey")(
                     "a", "a", "do", "do")}
    if path in instances:
        return instances[path]()
    try:
        return importlib.import_module(path)
    except ImportError:
        module, _, name = path.rpartition(".")
        return getattr(importlib.import_module(module), name)


def test_every_private_name_is_still_there() -> None:
    from scribe.ui.textual_private import PRIVATE_NAMES

    missing = [f"{where}.{name}" for where, name in PRIVATE_NAMES if not hasattr(owner(where), name)]
    assert not missing, f"this Textual no longer has {', '.join(missing)}: update scribe/ui/textual_private.py"


def private_uses(path: Path) -> list[str]:
    """`module.name` for each import of a private Textual module or name in a file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("textual"):
            names = [a.name for a in node.names if a.name.startswith("_")]
            if "._" in f".{node.module}" or names:
                found += [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith("textual") and "._" in a.name]
    return found


def test_no_other_module_imports_a_private_textual_name() -> None:
    uses = {str(path.relative_to(SCRIBE)): private_uses(path) for path in SCRIBE.rglob("*.py")}
    assert {path: names for path, names in uses.items() if names} == {
        "ui/textual_private.py": ["textual.widgets._text_area", "textual._wrap.compute_wrap_offsets",
                                  "textual.widgets._footer.FooterKey"]}


@pytest.mark.parametrize("source", ["from textual.widgets._footer import FooterKey\n", "import textual._xterm\n",
                                    "from textual.app import _private\n"])
def test_the_scan_sees_each_kind_of_private_import(tmp_path: Path, source: str) -> None:
    path = tmp_path / "m.py"
    path.write_text(source)
    assert private_uses(path)
