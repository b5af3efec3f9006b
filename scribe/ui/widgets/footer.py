"""The studio's footer: Textual's, drawn with the first screen, rebuilt only when the keys it shows change, and saying
when its keys are first on the screen."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import Footer


class StudioFooter(Footer):
    """Textual's Footer with two changes.

    Textual's composes no keys until the screen first publishes its bindings, after the first frame, and then needs
    a second frame (building ten key widgets took ~60 ms at start-up). This one composes them with the first screen.

    Textual's rebuilds itself (every key widget removed, new ones mounted and styled) at every bindings refresh. The
    studio refreshes its bindings whenever a continuation starts or ends, and each rebuild took 30-40 ms of the UI
    thread (up to 300 ms while a model streams), mostly to show the same keys again. This one rebuilds only when what
    it would show differs.
    """

    class Drawn(Message):
        """The footer's keys are on the screen for the first time: the first screen is complete."""

    def __init__(self) -> None:
        super().__init__()
        self.set_reactive(Footer._bindings_ready, True)  # the screen's bindings can be read as soon as it composes
        self._shown: object = None
        self._drawn = False

    def compose(self) -> ComposeResult:
        self._shown = self._what_is_shown()
        return super().compose()

    def on_mount(self) -> None:
        super().on_mount()
        self._say_when_drawn()

    async def recompose(self) -> None:
        if self._what_is_shown() == self._shown:
            return
        await super().recompose()
        self._say_when_drawn()

    def _say_when_drawn(self) -> None:
        if self.children and not self._drawn:
            self._drawn = True
            self.call_after_refresh(self.post_message, self.Drawn())

    def _what_is_shown(self) -> object:
        """Everything `Footer.compose` draws from: the shown bindings (and the command palette's), their states and key
        names, and the style."""
        palette = self.app.COMMAND_PALETTE_BINDING
        keys = tuple((binding, enabled, tooltip, self.app.get_key_display(binding))
                     for key, (_, binding, enabled, tooltip) in self.screen.active_bindings.items()
                     if binding.show or key == palette)
        return keys, self.compact, self.show_command_palette, self.combine_groups
