"""The token inspector: Home and End go to the first and last token, and an alternative removed by a filter shows 0
after the filters."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Static
from writing_helpers import SIZE, bundled_settings, finished, rendered, settle

from scribe.ui.app import ScribeApp


def panel_text(app: ScribeApp) -> str:
    return "\n".join(rendered(app, app.stream_view.query_one("#stream-alternatives", Static)))


async def test_home_end_and_filtered_alternatives(tmp_path: Path) -> None:
    story = tmp_path / "story.txt"
    story.write_text("The ship came into the harbour", encoding="utf-8")
    app = ScribeApp(story, settings=bundled_settings(max_new_tokens=6, top_k=2))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("ctrl+j")
        await finished(app, pilot)
        await pilot.press("f3")
        await pilot.pause()
        assert "token 6/6" in panel_text(app)
        await pilot.press("home")
        await pilot.pause()
        assert "token 1/6" in panel_text(app)
        rows = [line for line in panel_text(app).splitlines() if "removed by top_k" in line]
        assert rows, panel_text(app)
        assert all(line.split()[-4] == "0" for line in rows), rows  # ... before after  removed by top_k
        assert "<0.1%  removed" not in panel_text(app)
        await pilot.press("end")
        await pilot.pause()
        assert "token 6/6" in panel_text(app)
