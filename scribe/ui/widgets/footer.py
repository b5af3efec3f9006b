"""The studio's footer: Textual's, drawn with the first screen, rebuilt only when the keys it shows change, and saying
when its keys are first on the screen."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import Footer

from scribe.ui.textual_private import FooterKey, mark_footer_bindings_ready, set_footer_key_disabled


class StudioFooter(Footer):
    """Textual's Footer with two changes.

    Textual's composes no keys until the screen first publishes its bindings, after the first frame, and then needs
    a second frame (building ten key widgets took ~60 ms at start-up). This one composes them with the first screen.

    Textual's rebuilds itself (every key widget removed, new ones mounted and styled) at every bindings refresh. The
    studio refreshes its bindings whenever a continuation starts or ends, and each rebuild took 30-40 ms of the UI
    thread (up to 300 ms while a model streams), mostly to show the same keys again. This one rebuilds only when the
    keys it shows change; when keys only turn on or off (Stop while a model streams, Accept when there is a
    continuation: the studio shows them dimmed rather than hiding them), it restyles them in place.
    """

    class Drawn(Message):
        """The footer's keys are on the screen for the first time: the first screen is complete."""

    def __init__(self) -> None:
        super().__init__()
        mark_footer_bindings_ready(self)
        self._shown: object = None
        self._drawn = False

    def compose(self) -> ComposeResult:
        self._shown = self._what_is_shown()
        return super().compose()

    def on_mount(self) -> None:
        super().on_mount()
        self._say_when_drawn()

    async def recompose(self) -> None:
        shown = self._what_is_shown()
        if shown == self._shown:
            return
        if _without_states(shown) == _without_states(self._shown):  # only keys turned on or off: restyle those
            self._set_states(shown)
        else:
            await super().recompose()
        self._shown = shown
        self._say_when_drawn()

    def _set_states(self, shown: object) -> None:
        """Dim or light each key as `shown` says, in place (no widget is rebuilt)."""
        enabled = {binding.action: on for binding, on, _, _ in shown[0]}  # type: ignore[index]
        for key in self.query(FooterKey):
            if key.action in enabled:
                set_footer_key_disabled(key, not enabled[key.action])

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


def _without_states(shown: object) -> object:
    """What `StudioFooter._what_is_shown` returned, less whether each key is enabled."""
    if shown is None:
        return None
    keys, *rest = shown  # type: ignore[misc]
    return tuple((binding, tooltip, display) for binding, _, tooltip, display in keys), *rest
