"""What the writer sees is what they get: the continuation pane shows exactly the branch it names (no lines of a
longer branch left below a shorter one), Tab inserts what is shown, reject empties the pane, undoing an accept
un-marks the branch, and the tree's delete key asks first. Checked on the rendered screen."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Tree
from writing_helpers import (
    LONG,
    SHORT,
    SIZE,
    bundled_settings,
    finished,
    pane_text,
    settle,
    story_with_two_branches,
)

from scribe.studio.branches import BranchTree, sidecar_path
from scribe.studio.export import to_markdown
from scribe.ui.app import ScribeApp
from scribe.ui.screens.tree import BranchTreeScreen


async def test_a_shorter_branch_leaves_no_lines_of_the_longer_one_and_tab_inserts_what_is_shown(tmp_path: Path) -> None:
    story, _long_id, short_id = story_with_two_branches(tmp_path)
    app = ScribeApp(story, settings=bundled_settings())
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert "the long branch, line 4" in pane_text(app)
        await pilot.press("alt+right")
        await pilot.pause()
        assert app.branches.current is not None and app.branches.current.id == short_id
        shown = pane_text(app)
        assert shown == SHORT.rstrip(), shown
        await pilot.press("alt+left")
        await pilot.pause()
        assert "the long branch, line 4" in pane_text(app)
        await pilot.press("alt+right", "tab")
        await pilot.pause()
        assert app.editor.text == "Once" + SHORT


async def test_reject_empties_the_pane_and_a_new_continuation_starts_from_an_empty_pane(tmp_path: Path) -> None:
    story, _, _ = story_with_two_branches(tmp_path)
    app = ScribeApp(story, settings=bundled_settings())
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert "line 4" in pane_text(app)
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert pane_text(app) == ""
        app.show_node(next(n.id for n in app.branches.tree if n.text == LONG))  # as chosen in the tree
        await pilot.pause()
        assert "line 4" in pane_text(app)
        await pilot.press("ctrl+j")
        await finished(app, pilot)
        shown = pane_text(app)
        assert "long branch" not in shown and shown.replace("\n", "") in app.stream_view.text.replace("\n", "")


async def test_a_shorter_regenerated_sibling_leaves_no_lines_of_the_longer_one(tmp_path: Path) -> None:
    story = tmp_path / "story.txt"
    story.write_text("The ship came into the harbour", encoding="utf-8")
    app = ScribeApp(story, settings=bundled_settings(max_new_tokens=60))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("ctrl+j")
        await finished(app, pilot)
        assert pane_text(app).count("\n") >= 2, "the first continuation takes several lines"
        app.apply_setting("max_new_tokens", "3")
        await pilot.press("ctrl+g")
        await finished(app, pilot)
        shown = app.stream_view.text
        assert pane_text(app) == shown.rstrip("\n") and shown == app.branches.current.text
        await pilot.press("tab")
        assert app.editor.text == "The ship came into the harbour" + shown


async def test_undoing_an_accept_unmarks_the_branch_offers_it_again_and_redo_accepts_it(tmp_path: Path) -> None:
    story, _long_id, short_id = story_with_two_branches(tmp_path)
    app = ScribeApp(story, settings=bundled_settings())
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("alt+right", "tab")
        await settle(app, pilot)
        short = app.branches.tree.node(short_id)
        assert app.editor.text == "Once" + SHORT and short.accepted and pane_text(app) == ""
        assert BranchTree.load(sidecar_path(story)).node(short_id).accepted
        assert "**accepted**" in to_markdown("story", app.editor.text, app.branches.tree)

        await pilot.press("ctrl+z")
        await settle(app, pilot)
        assert app.editor.text == "Once"
        assert not short.accepted and not BranchTree.load(sidecar_path(story)).node(short_id).accepted
        assert "**accepted**" not in to_markdown("story", app.editor.text, app.branches.tree)
        assert pane_text(app) == SHORT.rstrip(), "the branch taken back is offered again"
        assert app.screen.query_one("#stream").border_title.startswith("branch 2/2")

        await pilot.press("ctrl+y")
        await settle(app, pilot)
        assert app.editor.text == "Once" + SHORT and short.accepted and pane_text(app) == ""
        await pilot.press("ctrl+z", "tab")  # taken back, then accepted by tab as offered
        await settle(app, pilot)
        assert app.editor.text == "Once" + SHORT and short.accepted


async def test_the_tree_delete_key_asks_first(tmp_path: Path) -> None:
    story, long_id, short_id = story_with_two_branches(tmp_path)
    app = ScribeApp(story, settings=bundled_settings())
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("f4")
        assert isinstance(app.screen, BranchTreeScreen)
        assert app.screen.query_one(Tree).cursor_node.data == long_id
        await pilot.press("d")
        await pilot.pause()
        question = " ".join(str(label.render()) for label in app.screen.query("Label"))
        assert "Delete this branch?" in question and "the long branch" in question
        await pilot.press("n")  # kept
        await pilot.pause()
        assert isinstance(app.screen, BranchTreeScreen) and long_id in app.branches.tree
        await pilot.press("d", "y")
        await pilot.pause()
        assert long_id not in app.branches.tree and short_id in app.branches.tree
        await pilot.press("escape")
        await settle(app, pilot)
        assert long_id not in BranchTree.load(sidecar_path(story)) and pane_text(app) == ""
