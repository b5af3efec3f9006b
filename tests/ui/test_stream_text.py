"""The continuation's text view: appending draws what showing the whole text draws, and the view follows the end."""

from __future__ import annotations

from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import Static

from scribe.ui.widgets.stream_text import StreamText

PIECES = [("The sea", "green"), (" was calm", "red"), (" and\n\nthe light", "yellow"), (" of evening " * 12, "green"),
          ("\n", "red"), ("lay upon it.", "yellow"), ("\n", "green")]


def whole() -> Text:
    text = Text()
    for piece, style in PIECES:
        text.append(piece, style=style)
    return text


class Views(App[None]):
    """A view fed piece by piece, one shown the whole text, and a Static (what the view replaced) side by side."""

    CSS = "StreamText, Static { width: 30; height: 6; }"

    def compose(self) -> ComposeResult:
        yield StreamText(id="appended")
        yield StreamText(id="shown")
        yield Static(id="static")


def styled(text: Text) -> list[tuple[str, list[str]]]:
    """Each character but line ends (which show no style) with the styles of the spans over it."""
    return [(char, [str(span.style) for span in text.spans if span.start <= index < span.end])
            for index, char in enumerate(text.plain) if char != "\n"]


def lines(view: StreamText) -> list[str]:
    return [view.render_line(y).text for y in range(view.size.height)]


async def test_appending_draws_what_showing_the_whole_text_draws() -> None:
    app = Views()
    async with app.run_test(size=(100, 10)) as pilot:
        appended, shown = app.query_one("#appended", StreamText), app.query_one("#shown", StreamText)
        for piece, style in PIECES:
            appended.append(Text(piece, style=style))
        shown.show(whole())
        await pilot.pause()
        assert appended.content.plain == shown.content.plain == whole().plain
        assert styled(appended.content) == styled(whole())
        assert appended.virtual_size.height > appended.size.height  # it overflows: the scrollbar took its room
        assert appended._lines == shown._lines  # same strips, styles and selection offsets included
        assert lines(appended) == lines(shown)


async def test_the_text_wraps_as_in_a_static_less_the_scrollbar_when_it_overflows() -> None:
    app = Views()
    async with app.run_test(size=(100, 10)) as pilot:
        view, static = app.query_one("#shown", StreamText), app.query_one("#static", Static)
        short = Text("The sea was calm and the light of evening lay upon it.", style="green")
        view.show(short)
        static.update(short)
        await pilot.pause()
        assert [strip.text.rstrip() for strip in view._lines] == [
            strip.text.rstrip() for strip in static.render_lines(static.size.region)
        ][: len(view._lines)]
        view.show(whole())
        await pilot.pause()
        assert view._width == view.size.width - view.styles.scrollbar_size_vertical


async def test_the_view_follows_the_end_unless_scrolled_away() -> None:
    app = Views()
    async with app.run_test(size=(100, 10)) as pilot:
        view = app.query_one("#appended", StreamText)
        for piece, style in PIECES:
            view.append(Text(piece, style=style))
            await pilot.pause()
        assert view.scroll_y == view.max_scroll_y > 0
        view.scroll_home(animate=False, immediate=True)
        view.append(Text(" more" * 20))
        await pilot.pause()
        assert view.scroll_y == 0
        view.show(Text("new"))
        await pilot.pause()
        assert view.scroll_y == 0 and lines(view)[0].startswith("new")
