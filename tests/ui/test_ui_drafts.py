"""Several drafts at once: one key asks for N continuations of the same text, each a sibling branch with its own
seed, generated one after another; alt+arrows cycle them in the pane and tab keeps the one shown."""

from __future__ import annotations

from pathlib import Path

from writing_helpers import SIZE, bundled_settings, finished, pane_text, settle

from scribe.studio.branches import BranchTree, sidecar_path
from scribe.ui.app import ScribeApp


async def until_idle(app: ScribeApp, pilot) -> None:
    while app.generating or app.generation.queued:
        await pilot.pause(0.05)
    await finished(app, pilot)


async def test_drafts_are_siblings_with_their_own_seeds_cycled_and_one_is_kept(tmp_path: Path) -> None:
    story = tmp_path / "story.txt"
    story.write_text("The old house stood", encoding="utf-8")
    app = ScribeApp(story, settings=bundled_settings(max_new_tokens=8, seed=40).replace(drafts=3))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("alt+n")
        await until_idle(app, pilot)
        root = app.branches.tree.roots()[0]
        drafts = app.branches.tree.children(root.id)
        assert [d.generation.seed for d in drafts] == [40, 41, 42]
        assert all(d.stop_reason == "max_tokens" and d.text for d in drafts)
        assert len({d.text for d in drafts}) == 3, "different seeds, different drafts"
        assert app.branches.current is drafts[-1] and "branch 3/3" in app.stream_view.border_title
        seen = [pane_text(app)]
        for _ in range(2):
            await pilot.press("alt+left")
            await pilot.pause()
            seen.append(pane_text(app))
        assert seen == [d.text.rstrip() for d in reversed(drafts)], "the pane shows each draft, nothing else"
        await pilot.press("alt+right", "tab")  # keep the second
        await settle(app, pilot)
        assert app.editor.text == "The old house stood" + drafts[1].text
        saved = BranchTree.load(sidecar_path(story))
        assert [n.accepted for n in saved.children(root.id)] == [False, True, False]


async def test_stopping_a_draft_stops_the_ones_queued_after_it(tmp_path: Path) -> None:
    story = tmp_path / "story.txt"
    story.write_text("The old house stood", encoding="utf-8")
    # long drafts, so the stop lands while they stream (4 x 200 tokens can be done, batched, before the next key)
    app = ScribeApp(story, settings=bundled_settings(max_new_tokens=1000, seed=None).replace(drafts=4))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("alt+n", "escape")
        await until_idle(app, pilot)
        root = app.branches.tree.roots()[0]
        assert len(app.branches.tree.children(root.id)) == 1
