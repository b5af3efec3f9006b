"""The studio's key bindings: one table that drives the keys, the command palette and the help screen (F1).

Every binding has an id; the writer remaps it in the `[keys]` table of config.toml (`tree = "f6"`). A binding's
`description` is its short name (footer, palette) and its `tooltip` the one-line help. Screens and widgets with keys
of their own (the token inspector, the tree view, the compare screen) declare them the same way and are listed on the
help screen too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from textual.binding import Binding, BindingType

STUDIO_BINDINGS: list[BindingType] = [
    Binding("ctrl+enter,ctrl+j,alt+enter", "continue", "Continue", id="continue", priority=True,
            tooltip="Continue the text at the cursor (a new branch of that text)"),
    Binding("escape", "stop", "Stop", id="stop", tooltip="Stop generating; what streamed so far stays"),
    Binding("tab,ctrl+t", "accept", "Accept", id="accept", priority=True,
            tooltip="Write the shown branch into the document where it started (one undo step)"),
    Binding("ctrl+right", "keep('word')", "Keep word", id="keep_word", show=False, priority=True,
            tooltip="Keep the continuation up to its next word; the rest stays offered"),
    Binding("ctrl+down", "keep('sentence')", "Keep sentence", id="keep_sentence", show=False, priority=True,
            tooltip="Keep the continuation up to the end of its next sentence; the rest stays offered"),
    Binding("ctrl+e", "edit", "Edit", id="edit", priority=True,
            tooltip="Edit the continuation in a draft before keeping it (tab keeps the draft, esc goes back)"),
    Binding("alt+n,f12", "drafts", "Drafts", id="drafts", priority=True,
            tooltip="Several continuations of the text at the cursor (drafts in the settings, default 3), one after "
            "another, each a branch with its own seed: alt+←/→ cycles them, tab keeps the one shown"),
    Binding("ctrl+r", "reject", "Reject", id="reject", tooltip="Put the continuation away (it stays in the tree)"),
    Binding("ctrl+g", "regenerate", "Regenerate", id="regenerate", priority=True,
            tooltip="Another continuation of the same prompt: a sibling branch"),
    Binding("ctrl+n", "extend", "Extend", id="extend", priority=True,
            tooltip="Continue the continuation: a child branch"),
    Binding("alt+left,alt+h", "sibling(-1)", "Previous branch", id="prev_branch", show=False, priority=True,
            tooltip="Show the previous sibling branch"),
    Binding("alt+right,alt+l", "sibling(1)", "Next branch", id="next_branch", show=False, priority=True,
            tooltip="Show the next sibling branch"),
    Binding("alt+up,alt+k", "branch_parent", "Parent branch", id="parent_branch", show=False, priority=True,
            tooltip="Show the branch this one continues"),
    Binding("alt+down,alt+j", "branch_child", "Child branch", id="child_branch", show=False, priority=True,
            tooltip="Show the newest continuation of this branch"),
    Binding("f4,ctrl+b", "tree", "Tree", id="tree", priority=True, tooltip="Show the whole branch tree"),
    Binding("f3,alt+i", "inspect", "Inspect", id="inspect", priority=True,
            tooltip="Move over the generated tokens: probabilities, alternatives, the filter that removed each"),
    Binding("alt+r", "replay", "Replay", id="replay", show=False, priority=True,
            tooltip="Regenerate the shown branch from its record and check the text is the same"),
    Binding("f9", "compare", "Compare", id="compare", show=False, priority=True,
            tooltip="Run 2-4 presets on the same prompt with the same seed, side by side"),
    Binding("f8", "presets", "Presets", id="presets", show=False, priority=True,
            tooltip="Choose a sampling preset, or save the current settings as one"),
    Binding("alt+p", "next_preset", "Next preset", id="next_preset", show=False, priority=True,
            tooltip="Switch to the next sampling preset"),
    Binding("ctrl+l", "lens", "Lens", id="lens", priority=True,
            tooltip="Perplexity lens: colour your text by how surprising the model finds each token"),
    Binding("alt+e", "export", "Export", id="export", show=False, priority=True,
            tooltip="Export the document as Markdown (with its branch tree) and the tree as JSON"),
    Binding("alt+t", "change_theme", "Theme", id="theme", show=False, priority=True,
            tooltip="Choose a theme (the choice is saved)"),
    Binding("ctrl+s", "save", "Save", id="save", priority=True, tooltip="Save the document"),
    Binding("alt+f", "open", "Open", id="open", show=False, priority=True,
            tooltip="Open another file (a path, or a recent one) in place of this one, without restarting"),
    Binding("f11,alt+o", "models", "Models", id="models", show=False, priority=True,
            tooltip="Every model: choose the one to write with, or download one (GPT-2 family, any repository id)"),
    Binding("alt+g", "rewrite_menu", "Actions", id="actions", show=False, priority=True,
            tooltip="Rewrite, expand, shorten or describe the selected passage, or an instruction you type (instruct "
            "models): the answer streams below, tab replaces the passage, ctrl+z restores it"),
    Binding("alt+c", "context_tools", "Context", id="context", show=False, priority=True,
            tooltip="Memory, author's note and lorebook of this document (saved beside it)"),
    Binding("alt+s", "context_preview", "Prompt", id="context_preview", show=False, priority=True,
            tooltip="The exact prompt the next continuation sends, coloured by source, with the lorebook hits"),
    Binding("alt+u", "chapters", "Chapters", id="chapters", show=False, priority=True,
            tooltip="A project's chapters with word counts, search across them, open another"),
    Binding("f2,ctrl+o", "toggle_settings", "Settings", id="settings", tooltip="Show or hide the settings panel"),
    Binding("f1", "help", "Keys", id="help", priority=True, tooltip="This list of keys"),
    Binding("ctrl+q", "quit", "Quit", id="quit", priority=True, tooltip="Quit (asks first when there are unsaved changes)"),
]

TREE_BINDINGS: list[BindingType] = [
    Binding("escape,q", "dismiss(None)", "Close", id="tree_close", tooltip="Tree view: back to the text"),
    Binding("delete,d", "delete", "Delete", id="tree_delete",
            tooltip="Tree view: delete the highlighted branch and everything under it (the text keeps what was "
            "accepted)"),
]
"""The tree view's keys (`scribe.ui.screens.tree`, imported when it opens)."""

COMPARE_BINDINGS: list[BindingType] = [
    Binding("r", "run", "Run", id="compare_run", tooltip="Compare: run the ticked presets"),
    Binding("1", "keep(0)", "Keep 1", id="compare_keep_1", tooltip="Compare: keep column 1 as a branch"),
    Binding("2", "keep(1)", "Keep 2", id="compare_keep_2", tooltip="Compare: keep column 2 as a branch"),
    Binding("3", "keep(2)", "Keep 3", id="compare_keep_3", tooltip="Compare: keep column 3 as a branch"),
    Binding("4", "keep(3)", "Keep 4", id="compare_keep_4", tooltip="Compare: keep column 4 as a branch"),
    Binding("escape", "close", "Back", id="compare_close", tooltip="Compare: back to the text"),
]
"""The compare screen's keys (`scribe.ui.screens.compare`, imported when it opens)."""

MODELS_BINDINGS: list[BindingType] = [
    Binding("ctrl+r", "refresh", "Refresh", id="models_refresh", tooltip="Model picker: list the models again"),
    Binding("escape", "cancel_or_close", "Cancel / close", id="models_close",
            tooltip="Model picker: cancel the download (what arrived is kept, the next download resumes it), "
            "or close the picker"),
]
"""The model picker's keys (`scribe.ui.screens.models`, imported when it opens)."""

ANYWHERE = frozenset({"help", "change_theme"})
"""Studio actions that also work over a dialog or another screen; every other one applies on the main screen only."""


@dataclass(frozen=True)
class KeyRow:
    """One line of the help screen."""

    where: str
    id: str
    keys: str
    name: str
    help: str


def bindings_of(bindings: Iterable[BindingType]) -> list[Binding]:
    """The `Binding`s of a BINDINGS list that have an id (tuples and id-less bindings are not remappable)."""
    return [b for b in bindings if isinstance(b, Binding) and b.id]


def effective_keys(binding: Binding, keymap: Mapping[str, str]) -> str:
    """The keys a binding answers to after the writer's remapping."""
    return keymap.get(binding.id or "", binding.key)


def key_rows(groups: Iterable[tuple[str, Iterable[BindingType]]], keymap: Mapping[str, str]) -> list[KeyRow]:
    """Help-screen rows for each (where, bindings) group."""
    return [KeyRow(where, b.id or "", effective_keys(b, keymap), b.description, b.tooltip)
            for where, bindings in groups for b in bindings_of(bindings)]
