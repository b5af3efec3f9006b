"""Branches in the real app: continue, regenerate, extend, move, the tree view, accept, the sidecar, reopen, replay."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Tree

from scribe.config import Settings
from scribe.studio.branches import BranchTree, sidecar_path
from scribe.ui.app import ScribeApp
from scribe.ui.screens.export import ExportScreen
from scribe.ui.screens.tree import BranchTreeScreen

SIZE = (110, 32)


async def ready(app: ScribeApp, pilot) -> None:
    await app.workers.wait_for_complete()
    await pilot.pause()
    assert app.model_state == "ready", app.status_bar.status


async def finished(app: ScribeApp, pilot) -> None:
    while app.generating:
        await pilot.pause(0.05)
    await app.workers.wait_for_complete()
    await pilot.pause()


async def test_branch_tree_from_writing_to_reopening(settings: Settings, tmp_path: Path) -> None:
    story = tmp_path / "story.txt"
    story.write_text("The lighthouse keeper", encoding="utf-8")
    app = ScribeApp(story, settings=settings.replace(sampling=settings.sampling.replace(seed=None)))
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        assert app.weights_hash and len(app.weights_hash) == 64
        await pilot.press("ctrl+j")
        await finished(app, pilot)
        tree = app.branches.tree
        first = app.branches.current
        assert first is not None and first.text == app.stream_view.text and len(first.tokens) == 8
        assert first.generation is not None and first.generation.seed is not None, "a random seed is drawn and kept"
        assert first.generation.weights_hash == app.weights_hash and first.generation.processor_order

        await pilot.press("ctrl+g")  # a sibling
        await finished(app, pilot)
        second = app.branches.current
        assert second is not None and second.parent == first.parent and second.id != first.id
        assert second.generation.seed != first.generation.seed
        await pilot.press("alt+left")
        assert app.branches.current is first and app.stream_view.text == first.text
        assert "branch 1/2" in app.stream_view.border_title

        await pilot.press("ctrl+n")  # a child of the first
        await finished(app, pilot)
        child = app.branches.current
        assert child is not None and child.parent == first.id
        assert app.stream_view.text == first.text + child.text, "the offered path runs from the writer's text down"
        await pilot.press("alt+up")
        assert app.branches.current is first
        await pilot.press("alt+down")
        assert app.branches.current is child

        await pilot.press("f4")
        assert isinstance(app.screen, BranchTreeScreen)
        widget = app.screen.query_one(Tree)
        assert widget.cursor_node is not None and widget.cursor_node.data == child.id
        await pilot.press("down")  # the second sibling comes after the first one and its child
        assert widget.cursor_node.data == second.id
        await pilot.press("enter")
        assert not isinstance(app.screen, BranchTreeScreen) and app.branches.current is second
        await pilot.press("alt+left", "alt+down")
        assert app.branches.current is child

        await pilot.press("tab")
        expected = "The lighthouse keeper" + first.text + child.text
        assert app.editor.text == expected and first.accepted and child.accepted and not second.accepted
        await pilot.press("ctrl+z")
        assert app.editor.text == "The lighthouse keeper", "accepting a path is one undo step"
        await pilot.press("ctrl+y", "ctrl+s")
        await app.workers.wait_for_complete()
        ids = {n.id for n in tree}
        on_disk = BranchTree.load(sidecar_path(story))
        assert {n.id for n in on_disk} == ids and on_disk.node(child.id).accepted
        await pilot.press("alt+e")
        assert isinstance(app.screen, ExportScreen)
        await pilot.press("down", "enter")
        exported = (tmp_path / "story.export-tree.md").read_text(encoding="utf-8")
        assert exported.startswith("# story.txt\n\n" + expected) and "**accepted**" in exported
        await pilot.press("ctrl+q")

    again = ScribeApp(story, settings=settings)
    async with again.run_test(size=SIZE) as pilot:
        await ready(again, pilot)
        assert again.editor.text == expected
        assert {n.id for n in again.branches.tree} == ids
        again.show_node(second.id)
        assert again.stream_view.text == second.text and again.editor.mark == len("The lighthouse keeper")
        await pilot.press("alt+r")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert again.last_replay is not None
        replayed, recorded = again.last_replay
        assert replayed == recorded == second.generated, "replaying a node regenerates it exactly"

        await pilot.press("f4")
        widget = again.screen.query_one(Tree)
        assert widget.cursor_node is not None and widget.cursor_node.data == second.id
        await pilot.press("d", "y", "escape")  # the delete key asks first
        assert second.id not in again.branches.tree and again.branches.current is None
        assert again.stream_view.text == "" and again.editor.mark is None, "the deleted branch is no longer offered"
        await again.workers.wait_for_complete()
        assert {n.id for n in BranchTree.load(sidecar_path(story))} == ids - {second.id}


async def test_quitting_while_generating_keeps_what_streamed_in_the_tree(
    settings: Settings, tmp_path: Path, long_context_model: Path
) -> None:
    story = tmp_path / "night.txt"
    story.write_text("Night", encoding="utf-8")
    long = settings.replace(model=str(long_context_model), sampling=settings.sampling.replace(max_new_tokens=16_000))
    app = ScribeApp(story, settings=long)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press("ctrl+j")
        while len(app.stream_view.steps) < 2:
            await pilot.pause(0.05)
        node_id = app.branches.current.id
    node = BranchTree.load(sidecar_path(story)).node(node_id)
    assert node.stop_reason == "cancelled" and len(node.tokens) >= 2
    assert node.text == "".join(t.text for t in node.tokens)
