"""The layering of scribe's packages, read from the source with `ast` (nothing is imported):

- the core never imports Textual or scribe.ui, not even lazily; the command line only inside `scribe tui`;
- scribe.ui never imports torch, transformers, tensorflow, keras, httpx or llama_cpp when a module loads (only inside a
  function, in a worker, or for type checking);
- sampling sits below the engine: no import from sampling up to the engine;
- the packages' import-time dependencies have no cycles.

Today's code breaks the last two in a few known places, listed in KNOWN_BACK_EDGES with the reason; a test fails when
one of them is gone, so the list only shrinks.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SCRIBE = Path(__file__).resolve().parents[1] / "scribe"
CORE = ("engine", "sampling", "store", "training", "studio", "analysis", "keras_models", "config")
FACES = ("cli", "commands")
"""The command line, which opens the TUI for `scribe tui` (and so may import it, inside that command)."""
HEAVY = ("torch", "transformers", "tensorflow", "keras", "httpx", "httpx2", "llama_cpp")

KNOWN_BACK_EDGES: dict[tuple[str, str], str] = {
    # The shared records and errors live in the leaf module scribe/types.py; the Keras runtime still reaches into the
    # engine for more than records.
    ("keras_models", "engine"): "runtime.py streams through the engine's TextStream (text from token pieces)",
}
"""Import-time arrows that run from a lower package up to the engine, each with what it takes."""


@dataclass(frozen=True)
class Import:
    path: Path
    line: int
    module: str
    at_load: bool
    """True when the import runs as the module loads (not inside a function, not under `if TYPE_CHECKING:`)."""

    @property
    def package(self) -> str:
        """The scribe package (or top-level module) the importing file belongs to."""
        return self.path.relative_to(SCRIBE).parts[0].removesuffix(".py")

    def __str__(self) -> str:
        return f"scribe/{self.path.relative_to(SCRIBE)}:{self.line} imports {self.module}"


def imports(path: Path) -> Iterator[Import]:
    """Every import statement of a file, absolute module names (relative imports resolved)."""
    package = path.relative_to(SCRIBE.parent).with_suffix("").parts[:-1]

    def walk(body: list[ast.stmt], at_load: bool) -> Iterator[Import]:
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield from walk(node.body, False)
                continue
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                yield from walk(node.body, False)
                yield from walk(node.orelse, at_load)
                continue
            if isinstance(node, ast.Import):
                yield from (Import(path, node.lineno, alias.name, at_load) for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = ".".join(package[: len(package) - node.level + 1]) if node.level else ""
                module = ".".join(part for part in (base, node.module or "") if part)
                yield Import(path, node.lineno, module, at_load)
            for field in ("body", "orelse", "finalbody", "handlers"):
                inner = getattr(node, field, None)
                if isinstance(inner, list):
                    yield from walk(inner, at_load)

    yield from walk(ast.parse(path.read_text(encoding="utf-8")).body, True)


def all_imports() -> list[Import]:
    return [found for path in sorted(SCRIBE.rglob("*.py")) for found in imports(path)]


def top(module: str) -> str:
    return module.split(".")[0]


def package_arrows(found: list[Import]) -> dict[tuple[str, str], list[Import]]:
    """Import-time arrows between scribe's packages (and its top-level modules, e.g. config and cli)."""
    arrows: dict[tuple[str, str], list[Import]] = defaultdict(list)
    for item in found:
        if item.at_load and item.module.startswith("scribe."):
            target = item.module.split(".")[1]
            if target != item.package:
                arrows[item.package, target].append(item)
    return arrows


def cycles(arrows: set[tuple[str, str]]) -> list[list[str]]:
    """The strongly connected groups of more than one package (Tarjan)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for source, target in arrows:
        graph[source].add(target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_the_core_never_imports_textual_or_the_ui() -> None:
    offending = [str(i) for i in all_imports()
                 if i.package in CORE and (top(i.module) == "textual" or i.module.startswith("scribe.ui"))]
    assert not offending, "the core must not know about the UI:\n" + "\n".join(offending)


def test_the_command_line_imports_the_ui_only_when_it_opens_it() -> None:
    offending = [str(i) for i in all_imports() if i.package in FACES and i.at_load
                 and (top(i.module) == "textual" or i.module.startswith("scribe.ui"))]
    assert not offending, "`scribe --help` and the other commands must not load the UI:\n" + "\n".join(offending)


def test_the_ui_imports_no_heavy_library_when_it_loads() -> None:
    offending = [str(i) for i in all_imports() if i.package == "ui" and i.at_load and top(i.module) in HEAVY]
    assert not offending, "import these inside the function that needs them (or a worker):\n" + "\n".join(offending)


def test_sampling_imports_nothing_of_the_engine() -> None:
    found = [i for i in all_imports() if i.package == "sampling" and i.module.startswith("scribe.engine")]
    offending = [str(i) for i in found]
    assert not offending, "sampling sits below the engine:\n" + "\n".join(offending)


def test_the_packages_have_no_import_cycles_beyond_the_known_back_edges() -> None:
    arrows = package_arrows(all_imports())
    remaining = set(arrows) - set(KNOWN_BACK_EDGES)
    groups = cycles(remaining)
    detail = {f"{a} -> {b}": [str(i) for i in arrows[a, b]] for group in groups
              for a, b in sorted(remaining) if a in group and b in group}
    assert not groups, f"import cycles between packages: {groups}\n{detail}"


def test_every_known_back_edge_still_exists() -> None:
    arrows = package_arrows(all_imports())
    gone = [edge for edge in KNOWN_BACK_EDGES if edge not in arrows]
    assert not gone, f"no longer imported at load time: {gone}; remove them from KNOWN_BACK_EDGES"


@pytest.mark.parametrize(("source", "at_load"), [
    ("import torch\n", True),
    ("def f():\n    import torch\n", False),
    ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import torch\n", False),
    ("try:\n    import torch\nexcept ImportError:\n    pass\n", True),
])
def test_the_reader_tells_import_time_from_lazy_imports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       source: str, at_load: bool) -> None:
    monkeypatch.setattr(sys.modules[__name__], "SCRIBE", tmp_path / "scribe")
    path = tmp_path / "scribe" / "ui" / "m.py"
    path.parent.mkdir(parents=True)
    path.write_text(source)
    [found] = [i for i in imports(path) if i.module == "torch"]
    assert found.at_load is at_load and found.package == "ui"


def test_cycles_are_found() -> None:
    assert cycles({("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")}) == [["a", "b", "c"]]
    assert cycles({("a", "b"), ("b", "c")}) == []
