"""The studio's footer: Textual's, rebuilt only when the keys it shows change, and saying when they are first drawn."""

from __future__ import annotations

from textual.message import Message
from textual.widgets import Footer


class StudioFooter(Footer):
    """Textual's Footer rebuilds itself (every key widget removed, new ones mounted and styled) at every bindings
    refresh. The studio refreshes its bindings whenever a continuation starts or ends, and each rebuild took 30-40 ms
    of the UI thread (up to 300 ms while a model streams), mostly to show the same keys again. This footer rebuilds
    only when what it would show differs."""

    class Drawn(Message):
        """The footer's keys are on the screen for the first time: the first screen is complete."""

    def __init__(self) -> None:
        super().__init__()
        self._shown: object = None
        self._drawn = False

    async def recompose(self) -> None:
        shown = self._what_is_shown()
        if shown == self._shown:
            return
        self._shown = shown
        await super().recompose()
        if self.children and not self._drawn:
            self._drawn = True
            self.call_after_refresh(self.post_message, self.Drawn())

    def _what_is_shown(self) -> object:
        """Everything `Footer.compose` draws from: the active bindings, their states and key names, and the style."""
        if not self._bindings_ready or not self.is_attached:
            return None
        keys = tuple((binding, enabled, tooltip, self.app.get_key_display(binding))
                     for _, binding, enabled, tooltip in self.screen.active_bindings.values())
        return keys, self.compact, self.show_command_palette, self.combine_groups
