"""The studio's footer: its keys come with the first screen, and it is rebuilt only when the keys it shows change."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets._footer import FooterKey

from scribe.ui.widgets.footer import StudioFooter


class Keys(App[None]):
    BINDINGS = [Binding("f5", "go", "Go"), Binding("f6", "halt", "Halt")]

    def __init__(self) -> None:
        super().__init__()
        self.running = False
        self.drawn = 0

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.running if action == "halt" else True

    def compose(self) -> ComposeResult:
        yield StudioFooter()

    def on_studio_footer_drawn(self) -> None:
        self.drawn += 1


def shown(app: Keys) -> list[str]:
    return [key.description for key in app.query(FooterKey)]


async def test_the_keys_are_on_the_first_screen_and_drawn_is_said_once() -> None:
    app = Keys()
    async with app.run_test() as pilot:
        assert "Go" in shown(app) and "Halt" not in shown(app)
        await pilot.pause()
        app.refresh_bindings()
        await pilot.pause()
        assert app.drawn == 1


async def test_it_is_rebuilt_only_when_the_shown_keys_change() -> None:
    app = Keys()
    async with app.run_test() as pilot:
        await pilot.pause()
        before = list(app.query(FooterKey))
        app.refresh_bindings()
        await pilot.pause()
        assert list(app.query(FooterKey)) == before  # the same widgets: not rebuilt
        app.running = True
        app.refresh_bindings()
        await pilot.pause()
        assert "Halt" in shown(app)
        app.running = False
        app.refresh_bindings()
        await pilot.pause()
        assert "Halt" not in shown(app)


class DimmedKeys(Keys):
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return (True if self.running else None) if action == "halt" else True  # None: shown, dimmed


async def test_a_key_that_turns_on_or_off_is_restyled_in_place() -> None:
    app = DimmedKeys()
    async with app.run_test() as pilot:
        await pilot.pause()
        before = list(app.query(FooterKey))
        halt = next(key for key in before if key.description == "Halt")
        assert halt.has_class("-disabled")
        app.running = True
        app.refresh_bindings()
        await pilot.pause()
        assert list(app.query(FooterKey)) == before, "the same widgets: not rebuilt"
        assert not halt.has_class("-disabled")
        app.running = False
        app.refresh_bindings()
        await pilot.pause()
        assert list(app.query(FooterKey)) == before and halt.has_class("-disabled")
