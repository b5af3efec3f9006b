"""The perplexity lens takes the focus and scrolls with PageUp/PageDown and Home/End over a long document."""

from __future__ import annotations

from pathlib import Path

from writing_helpers import bundled_settings, settle

from scribe.ui.app import ScribeApp


async def test_the_lens_takes_focus_and_scrolls(tmp_path: Path) -> None:
    story = tmp_path / "story.txt"
    story.write_text("".join(f"Line {n} of the long story.\n" for n in range(60)), encoding="utf-8")
    app = ScribeApp(story, settings=bundled_settings())
    async with app.run_test(size=(90, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("ctrl+l")
        await settle(app, pilot)
        scroll = app.lens_view.query_one("#lens-scroll")
        assert app.focused is scroll and scroll.max_scroll_y > 0
        await pilot.press("pagedown")
        await pilot.pause()
        assert scroll.scroll_y > 0
        await pilot.press("end")
        await pilot.pause()
        assert scroll.scroll_y == scroll.max_scroll_y
        await pilot.press("home")
        await pilot.pause()
        assert scroll.scroll_y == 0
        await pilot.press("ctrl+l")
        assert app.focused is app.editor
