"""The studio's footer shows the continue key every terminal sends (ctrl+j) and, when narrow, fewer keys rather than
a key cut at the edge."""

from __future__ import annotations

from textual.widgets._footer import FooterKey
from writing_helpers import bundled_settings, rendered, settle

from scribe.ui.app import ScribeApp
from scribe.ui.widgets.footer import StudioFooter


async def shown_keys(width: int) -> tuple[str, list[str]]:
    app = ScribeApp(settings=bundled_settings())
    async with app.run_test(size=(width, 30)) as pilot:
        await settle(app, pilot)
        footer = app.query_one(StudioFooter)
        line = "".join(rendered(app, footer))
        return line, [f"{key.key_display} {key.description}" for key in footer.query(FooterKey)]


async def test_narrow_footers_show_fewer_whole_keys_and_ctrl_j_for_continue() -> None:
    _wide_line, wide = await shown_keys(160)
    narrow_line, narrow = await shown_keys(60)
    assert "^j Continue" in wide and "^j Continue" in narrow and "tab Accept" in narrow
    assert len(narrow) < len(wide)
    for key in narrow:
        assert key in narrow_line, f"{key!r} is cut: {narrow_line!r}"
    assert "palette" in narrow_line
