"""One keys table: every BINDINGS of every screen, widget and app class in scribe.ui is a list of `scribe.ui.keys`,
every binding in it has an id unique across the table and a line of help, and the `[keys]` table of config.toml
accepts every id."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Iterator
from pathlib import Path

from textual.binding import Binding
from textual.dom import DOMNode

import scribe.ui
from scribe.config import Paths, load_settings
from scribe.ui.keymap import checked_keymap
from scribe.ui.keys import KEY_GROUPS


def scribe_ui_classes() -> Iterator[type[DOMNode]]:
    """Every app, screen and widget class defined in a module of scribe.ui (each module imported)."""
    for info in pkgutil.walk_packages(scribe.ui.__path__, "scribe.ui."):
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, DOMNode) and cls.__module__ == module.__name__:
                yield cls


def table() -> list[object]:
    return [binding for group in KEY_GROUPS for binding in group.bindings]


def test_every_binding_declared_in_scribe_ui_is_in_the_table_with_an_id() -> None:
    declared = {cls: cls.__dict__["BINDINGS"] for cls in scribe_ui_classes() if "BINDINGS" in cls.__dict__}
    assert {"ScribeApp", "StreamView", "BranchTreeScreen", "AttentionScreen", "ConfirmScreen"} <= {
        cls.__name__ for cls in declared}, "the walk finds the classes with keys"
    outside = [f"{cls.__module__}.{cls.__qualname__}: {binding!r}" for cls, bindings in declared.items()
               for binding in bindings
               if not isinstance(binding, Binding) or not binding.id or not any(binding is t for t in table())]
    assert not outside, "bindings declared outside scribe.ui.keys or without an id:\n" + "\n".join(outside)
    unused = [binding.id for binding in table()  # type: ignore[attr-defined]
              if not any(binding is b for bindings in declared.values() for b in bindings)]
    assert not unused, f"bindings of the table that no screen or widget declares: {unused}"


def test_every_binding_of_the_table_has_a_unique_id_and_a_line_of_help() -> None:
    bindings = table()
    assert all(isinstance(b, Binding) for b in bindings)
    ids = [b.id for b in bindings]  # type: ignore[attr-defined]
    assert all(ids) and len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    assert not [b.id for b in bindings if not b.tooltip], "every key says what it does"  # type: ignore[attr-defined]


def test_config_toml_can_remap_every_id_of_the_table() -> None:
    paths = Paths.discover()  # tests/conftest.py gives every test its own SCRIBE_HOME
    defaults = {b.id: b.key for b in table()}  # type: ignore[attr-defined]
    paths.config.mkdir(parents=True, exist_ok=True)
    Path(paths.config_file).write_text("[keys]\n" + "".join(f'{i} = "{k}"\n' for i, k in defaults.items()),
                                       encoding="utf-8")
    keymap = load_settings(paths, environ={}).keys
    assert keymap == defaults
    usable, problems = checked_keymap(keymap)
    assert problems == [] and usable == defaults


def test_an_id_not_in_the_table_is_refused_by_name() -> None:
    usable, problems = checked_keymap({"tree_delete": "x", "tree_explode": "y"})
    assert usable == {"tree_delete": "x"}
    assert len(problems) == 1 and "tree_explode" in problems[0] and "tree_delete" not in problems[0]


def test_a_remap_that_clashes_with_a_key_of_the_base_screen_is_refused() -> None:
    usable, problems = checked_keymap({"attention_mean": "h"})  # h is the analysis views' previous token
    assert usable == {} and problems and "attention_mean" in problems[0] and "analysis_prev_token" in problems[0]


def test_the_names_textual_gives_punctuation_keys_are_accepted() -> None:
    from scribe.ui.keymap import key_problem

    for name in ("minus", "slash", "plus", "full_stop", "left_square_bracket", "question_mark", "underscore"):
        assert key_problem(name) is None, name
    assert key_problem("minuses") is not None
