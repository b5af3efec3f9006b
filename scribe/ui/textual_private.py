"""Every private name of Textual that scribe relies on, in one place.

Textual is pinned exactly (pyproject.toml), and a Textual release may rename any of these without notice. The UI
modules use them only through this module; `tests/ui/test_textual_private.py` checks that each still exists, so an
upgrade fails with a message naming what moved instead of a crash deep in a frame. `PRIVATE_NAMES` lists them all:
when you add a use of a Textual private name, add it here and there.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import textual.widgets._text_area as text_area_module
from textual._wrap import compute_wrap_offsets  # noqa: F401 (re-exported: scribe.ui.widgets.fast_document)
from textual.screen import UPDATE_PERIOD, Screen
from textual.widgets import Footer, TextArea
from textual.widgets._footer import FooterKey
from textual.widgets.text_area import WrappedDocument

if TYPE_CHECKING:
    from textual.app import App
    from textual.geometry import Size
    from textual.notifications import Notification
    from textual.strip import Strip
    from textual.timer import Timer
    from textual.widget import Widget

PRIVATE_NAMES: tuple[tuple[str, str], ...] = (
    ("textual.widgets._footer", "FooterKey"),
    ("textual.widgets.Footer", "_bindings_ready"),
    ("textual.widgets._footer.FooterKey()", "_disabled"),
    ("textual.widget.Widget", "_get_style"),
    ("textual.widget.Widget", "_scroll_update"),
    ("textual.screen.Screen", "_update_timer"),
    ("textual.screen.Screen", "_on_timer_update"),
    ("textual.timer.Timer()", "_skip"),
    ("textual.widgets.TextArea", "_set_document"),
    ("textual.app.App()", "_notifications"),
    ("textual._wrap", "compute_wrap_offsets"),
    ("textual.widgets.TextArea", "_watch_language"),
    ("textual.widgets._text_area", "WrappedDocument"),
)
"""(owner, name) for every Textual private name scribe uses: a module, a class, or `Class()` for an attribute that
only instances have."""


def mark_footer_bindings_ready(footer: Footer) -> None:
    """Let a footer read its screen's bindings as soon as it composes (Textual waits for the first frame)."""
    footer.set_reactive(Footer._bindings_ready, True)


def set_footer_key_disabled(key: FooterKey, disabled: bool) -> None:
    """Dim or light one footer key in place, as Textual does when it rebuilds the footer."""
    key._disabled = disabled
    key.set_class(disabled, "-disabled")


def style_getter(widget: Widget) -> Any:
    """The widget's style lookup that `RenderOptions` takes (what Textual's own widgets pass)."""
    return widget._get_style


def notifications(app: App) -> list[Notification]:
    """The notifications an app is showing (the tests read them)."""
    return list(app._notifications)


def update_scrollbars(widget: Widget, size: Size) -> None:
    """Show, hide or resize a scroll view's scrollbars for a new virtual size, without a screen layout."""
    widget._scroll_update(size)


class CatchUpFrames(Screen[Any]):
    """A screen whose frame timer does not skip grid points: a change made while frames are behind is drawn at once.

    Textual's screens draw from a timer on a 60 Hz grid that, when a frame ends after the next grid point, skips to
    the one after; `set_interval` does not pass `skip` on, so the timer is made here and switched after."""

    _frame_timer: Timer | None = None

    @property
    def _update_timer(self) -> Timer:
        """The frame timer (Textual's property, which the screen's drawing code calls)."""
        if self._frame_timer is None:
            self._frame_timer = self.set_interval(UPDATE_PERIOD, self._on_timer_update, name="screen_update",
                                                  pause=True)
            self._frame_timer._skip = False
        return self._frame_timer


class DocumentSetHook(TextArea):
    """A TextArea calling `document_set` each time Textual sets up its document (on creation and on `load_text`),
    whose wrapped view of the document is a `wrapped_document_class` from the start (Textual names the class in its
    module: the name is pointed at this widget's class while the widget makes its documents, and put back)."""

    wrapped_document_class: type[WrappedDocument] = WrappedDocument

    def __init__(self, text: str = "", **kwargs: Any) -> None:
        # Textual makes a document from `text` three times (two in `__init__`, one when `language` is first set):
        # here it makes one, from `text`, and skips the others.
        self._document_language: str | None = None
        with self._making_documents():
            super().__init__("", **kwargs)
        if text:
            self._set_document(text, self.language)

    def _set_document(self, text: str, language: str | None) -> None:
        with self._making_documents():
            super()._set_document(text, language)
        self._document_language = language
        self.document_set()

    def _watch_language(self, language: str | None) -> None:
        if language != self._document_language:
            super()._watch_language(language)

    @property
    def text(self) -> str:
        """The whole text (Textual's property; see `render_line`)."""
        return "" if self._drawing_without_placeholder else self.document.text

    @text.setter
    def text(self, value: str) -> None:
        self.load_text(value)

    _drawing_without_placeholder = False

    def render_line(self, y: int) -> Strip:
        """Textual's line drawing, which first tests `not self.text and self.placeholder`: a join of the whole text
        after every edit (90 ms for 50 MB). Without a placeholder the test is false whatever the text, so the text
        is not joined for it."""
        if self.placeholder:
            return super().render_line(y)
        self._drawing_without_placeholder = True
        try:
            return super().render_line(y)
        finally:
            self._drawing_without_placeholder = False

    @contextmanager
    def _making_documents(self) -> Iterator[None]:
        text_area_module.WrappedDocument = self.wrapped_document_class  # type: ignore[misc]
        try:
            yield
        finally:
            text_area_module.WrappedDocument = WrappedDocument  # type: ignore[misc]

    def document_set(self) -> None:
        """Called after Textual has made the document and its wrapped view; override it."""
