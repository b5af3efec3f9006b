"""The token inspector names a newline token the same way everywhere: ⏎, the token as the model produced it, with
what was inserted for it when the prose joins changed it (a line break held back until the next token reads '')."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Static
from writing_helpers import SIZE, bundled_settings, rendered, settle

from scribe.engine.base import Alternative
from scribe.sampling.params import SamplingParams
from scribe.studio.branches import BranchTree, Generation, TokenRecord, sidecar_path
from scribe.ui.app import ScribeApp
from scribe.ui.widgets.stream_view import quoted


def panel_text(app: ScribeApp) -> str:
    return "\n".join(rendered(app, app.stream_view.query_one("#stream-alternatives", Static)))


def test_quoted_shows_line_breaks_and_tabs() -> None:
    assert quoted("\n") == "'⏎'" and quoted("a\r\nb") == "'a␍⏎b'" and quoted("\tx") == "'⇥x'"
    assert quoted("") == "''" and quoted("it's") == "'it's'" and quoted("\x00") == "'\\x00'"


async def test_a_newline_token_reads_as_the_return_symbol(tmp_path: Path) -> None:
    story = tmp_path / "story.txt"
    story.write_text("Once", encoding="utf-8")
    tree = BranchTree()
    root = tree.anchor_for("Once")
    node = tree.add(root.id, Generation(model="test", weights_hash=None, params=SamplingParams(seed=1),
                                        processor_order=(), alternatives=2))
    newline = TokenRecord(11, "", 0.5, 0.5, (Alternative(11, "\n", 0.5, 0.5), Alternative(12, " a", 0.2, 0.2)))
    tokens = (TokenRecord(10, " upon", 0.9, 0.9, (Alternative(10, " upon", 0.9, 0.9),)), newline,
              TokenRecord(13, "\nThe", 0.4, 0.4, (Alternative(13, "The", 0.4, 0.4), Alternative(11, "\n", 0.3, 0.3))))
    tree.finish(node.id, " upon\nThe", tokens, "max_tokens")
    tree.current = node.id
    tree.save(sidecar_path(story))
    app = ScribeApp(story, settings=bundled_settings())
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("f3")
        await pilot.pause()
        panel = panel_text(app)
        assert "token 3/3 'The' (inserted as '⏎The')" in panel, panel
        assert "'⏎'" in panel and "'\\n'" not in panel, panel  # the alternative row
        await pilot.press("left")
        await pilot.pause()
        panel = panel_text(app)
        assert "token 2/3 '⏎' (inserted as '')" in panel, panel
        rows = [line for line in panel.splitlines() if line.lstrip("▶ ").startswith("*")]
        assert len(rows) == 1 and rows[0].lstrip("▶ *").startswith("'⏎'"), panel
