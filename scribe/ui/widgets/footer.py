"""The studio's footer: Textual's, drawn with the first screen, rebuilt only when the keys it shows change, and saying
when its keys are first on the screen."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Footer

from scribe.ui.textual_private import FooterKey, mark_footer_bindings_ready, set_footer_key_disabled


FOOTER_PRIORITY = ("continue", "accept", "stop", "reject", "edit", "drafts", "regenerate", "extend", "settings", "help",
                   "quit", "tree", "inspect", "save", "lens")
"""The studio's keys in the order they keep their place in a narrow footer: keys further down (and keys not named
here) give up theirs first, so that the footer shows fewer keys rather than cutting one."""
UNREPORTED_KEYS = frozenset({"ctrl+enter", "alt+enter", "shift+enter", "ctrl+shift+enter"})
"""Keys most terminals (tmux included) send as a plain Enter: the footer shows another key of the same action (ctrl+j
for continue), which works everywhere."""
KEY_PADDING = 3
"""Columns a footer key takes beyond its key and description (its padding and the space between them)."""


def footer_width(display: str, description: str) -> int:
    """Columns a footer key takes."""
    return len(display) + len(description) + KEY_PADDING


def fitting(keys: list[tuple[str, int]], width: int) -> set[int]:
    """The indexes of the (binding id, columns) `keys` to show in `width` columns: all when they fit, else the most
    important (`FOOTER_PRIORITY`) that do."""
    rank = {name: place for place, name in enumerate(FOOTER_PRIORITY)}
    order = sorted(range(len(keys)), key=lambda i: (rank.get(keys[i][0], len(rank)), i))
    kept: set[int] = set()
    used = 0
    for index in order:
        if used + keys[index][1] <= width:
            kept.add(index)
            used += keys[index][1]
    return kept


class StudioFooter(Footer):
    """Textual's Footer with three changes (and its keys composed here, one per action, without groups).

    Textual's composes no keys until the screen first publishes its bindings, after the first frame, and then needs
    a second frame (building ten key widgets took ~60 ms at start-up). This one composes them with the first screen.

    Textual's rebuilds itself (every key widget removed, new ones mounted and styled) at every bindings refresh. The
    studio refreshes its bindings whenever a continuation starts or ends, and each rebuild took 30-40 ms of the UI
    thread (up to 300 ms while a model streams), mostly to show the same keys again. This one rebuilds only when the
    keys it shows change; when keys only turn on or off (Stop while a model streams, Accept when there is a
    continuation: the studio shows them dimmed rather than hiding them), it restyles them in place.

    Textual's cuts the keys that do not fit at the right edge (a "Tree" became "Tre"); this one shows only the keys
    that fit, the most important first (`FOOTER_PRIORITY`), and composes again when its width changes.
    """

    class Drawn(Message):
        """The footer's keys are on the screen for the first time: the first screen is complete."""

    def __init__(self) -> None:
        super().__init__()
        mark_footer_bindings_ready(self)
        self._shown: object = None
        self._drawn = False

    def compose(self) -> ComposeResult:
        self._shown = shown = self._what_is_shown()
        keys, palette = shown[0], shown[-1]  # type: ignore[index]
        self.styles.grid_size_columns = len(keys) + (palette is not None)
        for binding, enabled, tooltip, display in keys:
            yield FooterKey(binding.key, display, binding.description, binding.action, disabled=not enabled,
                            tooltip=tooltip).data_bind(compact=Footer.compact)
        if palette is not None:
            binding, enabled, tooltip, display = palette
            yield FooterKey(binding.key, display, binding.description, binding.action, classes="-command-palette",
                            disabled=not enabled, tooltip=binding.tooltip or binding.description)

    def on_resize(self) -> None:
        if self.is_attached and self._what_is_shown() != self._shown:
            self.call_after_refresh(self.recompose)

    def on_mount(self) -> None:
        super().on_mount()
        self._say_when_drawn()

    async def recompose(self) -> None:
        shown = self._what_is_shown()
        if shown == self._shown:
            return
        if _without_states(shown) == _without_states(self._shown) and self.children:  # only keys turned on or off
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
        palette_key = self.app.COMMAND_PALETTE_BINDING
        palette = None
        by_action: dict[str, list[tuple[Binding, bool, str]]] = {}
        for key, (_, binding, enabled, tooltip) in self.screen.active_bindings.items():
            if key == palette_key and self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE:
                palette = (binding, enabled, tooltip, self.app.get_key_display(binding))
            elif binding.show:
                by_action.setdefault(binding.action, []).append((binding, enabled, tooltip))
        keys = []
        for choices in by_action.values():
            binding, enabled, tooltip = next((c for c in choices if c[0].key not in UNREPORTED_KEYS), choices[0])
            keys.append((binding, enabled, tooltip, self.app.get_key_display(binding)))
        width = self.app.size.width  # the footer spans the screen (its own size is not laid out at first)
        room = width - (footer_width(palette[3], palette[0].description) + 1 if palette is not None else 0)
        kept = fitting([(b.id or b.action, footer_width(d, b.description)) for b, _, _, d in keys], room)
        shown = tuple(item for index, item in enumerate(keys) if index in kept)
        return shown, self.compact, palette


def _without_states(shown: object) -> object:
    """What `StudioFooter._what_is_shown` returned, less whether each key is enabled."""
    if shown is None:
        return None
    keys, compact, palette = shown  # type: ignore[misc]
    return (tuple((binding, tooltip, display) for binding, _, tooltip, display in keys), compact,
            palette and (palette[0], palette[2], palette[3]))
