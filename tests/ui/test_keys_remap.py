"""Keys of screens and dialogs other than the studio's, remapped in config.toml: the new key works there, the old one
no longer does, F1 and the dialog's buttons show the new key, and the command palette lists that screen's actions with
it."""

from __future__ import annotations

from pathlib import Path

from textual.containers import VerticalScroll
from textual.widgets import Button, OptionList
from writing_helpers import SIZE, rendered, settle, story_with_two_branches

from scribe.config import Paths
from scribe.ui.app import ScribeApp
from scribe.ui.keys import bindings_of
from scribe.ui.screens.context_tools import ContextToolsScreen
from scribe.ui.screens.dialogs import ConfirmScreen
from scribe.ui.screens.help import HelpScreen
from scribe.ui.screens.tree import BranchTreeScreen


def write_config(model: Path, keys: dict[str, str]) -> None:
    """config.toml in this test's SCRIBE_HOME (tests/conftest.py): the tiny model, no timer autosaves, `keys`."""
    paths = Paths.discover()
    paths.config.mkdir(parents=True, exist_ok=True)
    remaps = "".join(f'{binding_id} = "{key}"\n' for binding_id, key in keys.items())
    paths.config_file.write_text(f'model = "{model}"\ndevice = "cpu"\nautosave_seconds = 3600.0\n\n[keys]\n{remaps}',
                                 encoding="utf-8")


def help_rows(app: ScribeApp) -> list[list[str]]:
    """The lines F1 shows (what is on screen of its list), split into words."""
    assert isinstance(app.screen, HelpScreen)
    return [line.split() for line in rendered(app, app.screen.query_one(VerticalScroll))]


async def test_a_remapped_tree_key_deletes_and_f1_and_the_palette_show_it(tiny_model: Path, tmp_path: Path) -> None:
    write_config(tiny_model, {"tree_delete": "x", "confirm_no": "k"})
    story, _, _ = story_with_two_branches(tmp_path)
    app = ScribeApp(story)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert not [n for n in app._notifications if "[keys]" in n.message], "tree_delete is a known id"
        await pilot.press("f4")
        tree = app.screen
        assert isinstance(tree, BranchTreeScreen)
        await pilot.press("d")
        await pilot.pause()
        assert app.screen is tree, "d no longer deletes"
        await pilot.press("x")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen), "x asks to delete the highlighted branch"
        assert "Keep (k)" in "".join(rendered(app, app.screen.query_one("#no", Button))), "the button shows its key"
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen), "n no longer answers no"
        await pilot.press("k")
        await pilot.pause()
        assert app.screen is tree and len(app.branches.tree) == 3, "k answered no: nothing was deleted"

        await pilot.press("f1")
        await pilot.pause()
        rows = help_rows(app)
        assert ["TREE", "VIEW", "(F4)"] in rows, "the open screen's keys come first"
        assert [row[:2] for row in rows if row[1:2] == ["tree_delete"]] == [["x", "tree_delete"]]
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is tree

        commands = {command.title: command for command in app.get_system_commands(tree)}
        assert {"Delete (x)", "Close (escape,q)", "Keys (f1)"} <= set(commands)
        assert not [title for title in commands if title.startswith(("Continue", "Accept", "Action:"))], \
            "the studio's writing actions do not work over the tree, so the palette leaves them out"
        await commands["Delete (x)"].callback()
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen), "the palette's entry runs the tree's action"


async def test_a_context_tools_key_that_was_refused_as_unknown_now_remaps(tiny_model: Path, tmp_path: Path) -> None:
    write_config(tiny_model, {"context_add_entry": "alt+y"})
    story = tmp_path / "story.txt"
    story.write_text("The harbour was quiet.", encoding="utf-8")
    app = ScribeApp(story)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert not [n for n in app._notifications if "[keys]" in n.message]
        await pilot.press("alt+c")
        await pilot.pause()
        assert isinstance(app.screen, ContextToolsScreen)
        entries = app.screen.query_one("#entries", OptionList)
        await pilot.press("alt+n")
        await pilot.pause()
        assert entries.option_count == 0, "alt+n no longer adds an entry"
        await pilot.press("alt+y")
        await pilot.pause()
        assert entries.option_count == 1 and "(new entry)" in str(entries.get_option_at_index(0).prompt)
        titles = {command.title for command in app.get_system_commands(app.screen)}
        assert {"New entry (alt+y)", "Delete entry (alt+x)", "Close (escape)", "Keys (f1)"} <= titles

        await pilot.press("f1")
        await pilot.pause()
        rows = help_rows(app)
        assert ["CONTEXT", "TOOLS", "(ALT+C)"] in rows, "the open screen's keys come first"
        assert [row[:2] for row in rows if row[1:2] == ["context_add_entry"]] == [["alt+y", "context_add_entry"]]


async def test_on_the_text_the_palette_lists_every_studio_action_and_the_focused_widgets(tiny_model: Path) -> None:
    write_config(tiny_model, {"inspect_keep": "y"})
    app = ScribeApp()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        titles = {command.title for command in app.get_system_commands(app.screen)}
        studio = [b for b in bindings_of(app.BINDINGS) if b.action not in ("quit", "change_theme")]  # Textual's own
        assert len(studio) > 30 and not [b.id for b in studio if f"{b.description} ({b.key})" not in titles]
        assert "Start of text (ctrl+home)" in titles, "the editor has the focus"
        app.stream_view.focus()
        await pilot.pause()
        titles = {command.title for command in app.get_system_commands(app.screen)}
        assert {"Keep up to here (y)", "Branch from alternative (enter)"} <= titles
