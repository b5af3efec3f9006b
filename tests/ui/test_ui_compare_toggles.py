"""Compare's preset toggles are told apart when off: an unticked box is empty, a ticked one shows its mark."""

from __future__ import annotations

from textual.widgets import SelectionList
from writing_helpers import bundled_settings, settle

from scribe.ui.app import ScribeApp
from scribe.ui.screens.compare import CompareScreen


async def test_unticked_boxes_are_empty_and_ticked_ones_marked() -> None:
    app = ScribeApp(settings=bundled_settings())
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("f9")
        await pilot.pause()
        assert isinstance(app.screen, CompareScreen)
        toggles = app.screen.query_one(SelectionList)
        off = toggles.get_component_rich_style("selection-list--button")
        on = toggles.get_component_rich_style("selection-list--button-selected")
        assert off.color == off.bgcolor, "the mark of an unticked box is not drawn"
        assert on.color != on.bgcolor and on.bold
        await pilot.press("escape")
