"""Hints written into labels and borders name the keys in effect: after a remap in config.toml the continuation
pane's border, the draft's, the token inspector's line and the tree view's hint show the writer's keys, not the
defaults; so do an instruct action's answer and the context tools' heading."""

from __future__ import annotations

import sys
from pathlib import Path

from test_keys_remap import write_config
from textual.widget import Widget
from textual.widgets import Label
from writing_helpers import finished, rendered, settle, story_with_two_branches

from scribe.config import Settings
from scribe.sampling.params import SamplingParams
from scribe.ui.app import ScribeApp
from scribe.ui.screens.tree import BranchTreeScreen

WIDE = (160, 40)
"""Wide enough for the continuation pane's whole border hint."""


def border(app: ScribeApp, widget: Widget, *, bottom: bool) -> str:
    """The widget's top or bottom border line as the screen shows it (its title or subtitle)."""
    region = widget.region
    strips = app.screen._compositor.render_strips()
    return strips[region.bottom - 1 if bottom else region.y].crop(region.x, region.right).text


async def test_hints_show_the_remapped_keys(tiny_model: Path, tmp_path: Path) -> None:
    write_config(tiny_model, {"accept": "ctrl+y", "prev_branch": "alt+comma", "next_branch": "alt+full_stop",
                              "inspect_leave": "q", "tree_delete": "x"})
    story, _, _ = story_with_two_branches(tmp_path)
    app = ScribeApp(story)
    async with app.run_test(size=WIDE) as pilot:
        await settle(app, pilot)
        assert not [n for n in app._notifications if n.title == "Keys refused"]
        shown = border(app, app.stream_view, bottom=True)
        assert "ctrl+y accept" in shown and "tab accept" not in shown, shown

        await pilot.press("ctrl+j")
        await finished(app, pilot)
        shown = border(app, app.stream_view, bottom=True)
        assert "· ctrl+y accept · ctrl+g sibling · ctrl+n extend · alt+,/. branches · f3 inspect" in shown, shown

        await pilot.press("f3")
        await pilot.pause()
        line = "".join(rendered(app, app.stream_view.query_one("#stream-alternatives")))
        assert "←/→ token · ↑/↓ alternative · ⏎: branch from it · q: back" in line, line
        await pilot.press("q")
        await pilot.pause()
        assert app.focused is app.editor, "q left the inspector"

        await pilot.press("ctrl+e")
        await pilot.pause()
        assert "draft · edit, then ctrl+y keeps it · esc back" in border(app, app.draft, bottom=False)
        await pilot.press("escape")
        await pilot.pause()

        await pilot.press("f4")
        await pilot.pause()
        assert isinstance(app.screen, BranchTreeScreen)
        hint = "".join(rendered(app, app.screen.query(Label).first()))
        assert "x delete · esc back" in hint and "d delete" not in hint, hint


async def test_an_answers_hint_and_the_context_tools_heading_show_the_remapped_keys(tmp_path: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))
    from tiny_models import CHAT_TEMPLATE, save_tiny_llama

    model = save_tiny_llama(tmp_path / "chat", "llama", chat_template=CHAT_TEMPLATE, layers=1)
    story = tmp_path / "story.txt"
    story.write_text("It was late. The rain fell on the garden.", encoding="utf-8")
    keys = {"accept": "ctrl+y", "regenerate": "alt+z", "reject": "alt+q", "context_add_entry": "alt+y",
            "context_delete_entry": "alt+b", "context_close": "ctrl+w"}
    settings = Settings(model=str(model), device="cpu", dtype="float32", autosave_seconds=3600.0, keys=keys,
                        sampling=SamplingParams(max_new_tokens=6, seed=5))
    app = ScribeApp(story, settings=settings)
    async with app.run_test(size=WIDE) as pilot:
        await settle(app, pilot)
        assert not [n for n in app._notifications if n.title == "Keys refused"]
        app.editor.select_all()
        await pilot.press("alt+g")
        await pilot.pause()
        await pilot.press("enter")  # Rewrite, the first action
        await finished(app, pilot)
        shown = border(app, app.stream_view, bottom=True)
        assert "ctrl+y replaces the passage · alt+z another · alt+q reject" in shown, shown
        assert "tab replaces" not in shown and "ctrl+r" not in shown, shown
        await pilot.press("alt+q")
        await pilot.pause()
        assert app.rewriting.pending is None, "the remapped reject key put the answer away"

        await pilot.press("alt+c")
        await pilot.pause()
        heading = "".join(rendered(app, app.screen.query(Label).first()))
        assert "alt+y new entry · alt+b delete entry · ctrl+w closes" in heading, heading
        assert "alt+n" not in heading and "escape" not in heading, heading
