"""Styled text that grows at its end, drawn line by line: appending re-wraps only the last paragraph, and a frame
draws only the lines on the screen.

The continuation view first used a Static in a scrolling container, which re-wrapped and re-rendered the whole text
at every update, about 30 times a second while a model streams: a frame took 4 ms at 100 tokens and 60 ms at 2,000.
Here each paragraph (a line of the text) is wrapped on its own, as Textual wraps a Static's text line by line, and
kept wrapped until it changes or the width does. The text looks as it did in the Static, text selection included.
"""

from __future__ import annotations

from rich.text import Text
from textual.content import Content
from textual.geometry import Offset, Size
from textual.scroll_view import ScrollView
from textual.selection import Selection
from textual.strip import Strip
from textual.style import Style
from textual.visual import RenderOptions

from scribe.ui.textual_private import style_getter, update_scrollbars


class StreamText(ScrollView, can_focus=False):
    """Scrolling, soft-wrapped text; `show` replaces it, `append` adds to its end."""

    DEFAULT_CSS = "StreamText { overflow-x: hidden; }"

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._paragraphs: list[Text] = [Text()]
        self._lines: list[Strip] = []
        """The wrapped lines of every paragraph, in order."""
        self._starts: list[int] = []
        """The index in `_lines` of each paragraph's first line."""
        self._width = 0
        """The width `_lines` are wrapped to (0: not wrapped yet)."""

    @property
    def content(self) -> Text:
        """The whole text."""
        return Text("\n").join(self._paragraphs)

    def show(self, text: Text, *, follow: bool = True) -> None:
        """Show `text` in place of what is shown; with `follow`, a view scrolled to the end stays at the end."""
        self._paragraphs = _spans_only(text).split("\n", allow_blank=True)
        self._update(0, follow)

    def append(self, text: Text, *, follow: bool = True) -> None:
        """Add `text` at the end; with `follow`, a view scrolled to the end stays at the end."""
        first, *rest = _spans_only(text).split("\n", allow_blank=True)
        changed = len(self._paragraphs) - 1
        self._paragraphs[-1].append_text(first)
        self._paragraphs.extend(rest)
        self._update(changed, follow)

    def _update(self, changed: int, follow: bool) -> None:
        """Re-wrap paragraphs from `changed` on and redraw the lines that moved or changed."""
        at_end = self.scroll_y >= self.max_scroll_y - 1
        shown_before = len(self._lines)
        first_line = self._wrap(changed)
        self._set_virtual_size(Size(self._width, len(self._lines)))
        # lines past the new end are redrawn too (blank): a shorter text must not leave the longer one's lines
        self.refresh_lines(first_line, max(len(self._lines), shown_before) - first_line or 1)
        if follow and at_end:  # forced: the scrollbar a first overflow needs is shown only at the next layout
            self.scroll_end(animate=False, immediate=True, x_axis=False, force=True)

    def _set_virtual_size(self, size: Size) -> None:
        """Set the scrollable size and update the scrollbar, without the screen layout that setting `virtual_size`
        asks for: a layout re-arranges and repaints the whole screen, and the text grows by a line every few frames.
        Only showing or hiding the scrollbar takes a layout (Textual asks for it)."""
        if size != self.virtual_size:
            self.set_reactive(StreamText.virtual_size, size)
            update_scrollbars(self, size)

    def _wrap(self, changed: int) -> int:
        """Wrap paragraphs from `changed` on (all of them when the width changes); the first line that changed.

        The width is the view's, less the vertical scrollbar when the text overflows the view (as for a Static in a
        scrolling container, whose scrollbar takes its room only when shown).
        """
        full = self.size.width
        narrow = max(full - self.styles.scrollbar_size_vertical, 1)
        width = self._width if self._width in (full, narrow) else full
        start = self._wrap_at(width, changed if width == self._width else 0)
        wanted = narrow if len(self._lines) > self.size.height else full
        if wanted != width:
            start = self._wrap_at(wanted, 0)
        return start

    def _wrap_at(self, width: int, changed: int) -> int:
        self._width = width
        if not width:
            self._lines, self._starts = [], []
            return 0
        start = self._starts[changed] if changed < len(self._starts) else len(self._lines)
        del self._starts[changed:]
        del self._lines[start:]
        for index in range(changed, len(self._paragraphs)):
            self._starts.append(len(self._lines))
            self._lines.extend(self._render_paragraph(index, width))
        return start

    def _render_paragraph(self, index: int, width: int) -> list[Strip]:
        """Paragraph `index` wrapped to `width`, its offsets (for selecting text) those of its line in the whole text."""
        selection = self.text_selection
        if selection is not None:
            selection = _shift(selection, -index)
            selection_style = Style.from_styles(self.screen.get_component_styles("screen--selection"))
        else:
            selection_style = None
        content = Content.from_rich_text(self._paragraphs[index], console=self.app.console)
        options = RenderOptions(style_getter(self), self.styles, selection, selection_style)
        strips = content.render_strips(width, None, self.visual_style, options)
        return [strip.apply_offsets(_first_column(strip), index) for strip in strips]

    def render_line(self, y: int) -> Strip:
        index = self.scroll_offset.y + y
        if index < len(self._lines):
            return self._lines[index]
        return Strip.blank(self._width, self.visual_style.background_style.rich_style)

    def on_resize(self) -> None:
        self._update(0, follow=True)

    def get_selection(self, selection: Selection) -> tuple[str, str] | None:
        return selection.extract(self.content.plain), "\n"

    def selection_updated(self, selection: Selection | None) -> None:
        self._update(0, follow=False)


def _spans_only(text: Text) -> Text:
    """`text` with its base style as a span, so that its paragraphs pass on no style to text appended to them."""
    return Text().append_text(text) if text.style else text


def _shift(selection: Selection, lines: int) -> Selection:
    """`selection` moved down by `lines` (up when negative)."""
    move = Offset(0, lines)
    return Selection(None if selection.start is None else selection.start + move,
                     None if selection.end is None else selection.end + move)


def _first_column(strip: Strip) -> int:
    """The column in its paragraph where a wrapped line starts (Textual records it in each segment's style)."""
    for segment in strip:
        if segment.style is not None and "offset" in segment.style.meta:
            return int(segment.style.meta["offset"][0])
    return 0
