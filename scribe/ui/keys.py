"""Every key binding of scribe in one table: it drives the keys, their remapping, the command palette and the help
screen (F1).

Each screen and widget with keys of its own declares `BINDINGS = <its list below>`, and `KEY_GROUPS` names every list
with where it applies. Every binding has an id, unique across the table (Textual's keymap gives a binding new keys by
its id, on whatever screen it is); the writer remaps it in the `[keys]` table of config.toml (`tree = "alt+z"`,
`tree_delete = "x"`). A binding's `description` is its short name (footer, palette) and its `tooltip` the one-line
help.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from textual.binding import Binding, BindingType
from textual.dom import DOMNode
from textual.keys import format_key

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
"""The studio's own keys (the app's, with the analysis and training keys below)."""

ANALYSIS_BINDINGS: list[BindingType] = [
    Binding("f6,alt+a", "attention", "Attention", id="attention", show=False, priority=True,
            tooltip="Attention of each token over the tokens before it, per layer and head"),
    Binding("f7,alt+d", "distribution", "Distribution", id="distribution", show=False, priority=True,
            tooltip="The next-token distribution at any token, and where top-k, top-p and min-p cut it"),
    Binding("f5,alt+w", "sweep", "Sweep", id="sweep", show=False, priority=True,
            tooltip="Sample the text before the cursor over a grid of one or two sampling settings"),
    Binding("alt+v", "evaluate", "Evaluate", id="evaluate", show=False, priority=True,
            tooltip="Score several models on the same files: perplexity, bits per character, tokens/s"),
]
"""The studio's keys that open the analysis views (`scribe.ui.screens.open_analysis`)."""

TRAINING_BINDINGS: list[BindingType] = [
    Binding("f10,alt+m", "training", "Train", id="training", show=False, priority=True,
            tooltip="Fine-tune a model on your files (or train one from scratch) and watch it learn"),
]
"""The studio's key that opens the training screen (`scribe.ui.screens.open_training`)."""

INSPECTOR_BINDINGS: list[BindingType] = [
    Binding("left", "move_token(-1)", "Previous token", id="inspect_prev_token", show=False,
            tooltip="Inspector: the previous generated token"),
    Binding("right", "move_token(1)", "Next token", id="inspect_next_token", show=False,
            tooltip="Inspector: the next generated token"),
    Binding("home", "token_edge(False)", "First token", id="inspect_first_token", show=False,
            tooltip="Inspector: the first generated token"),
    Binding("end", "token_edge(True)", "Last token", id="inspect_last_token", show=False,
            tooltip="Inspector: the last generated token"),
    Binding("up", "move_alternative(-1)", "Previous alternative", id="inspect_prev_alternative", show=False,
            tooltip="Inspector: the previous alternative of the token"),
    Binding("down", "move_alternative(1)", "Next alternative", id="inspect_next_alternative", show=False,
            tooltip="Inspector: the next alternative of the token"),
    Binding("enter", "branch", "Branch from alternative", id="inspect_branch",
            tooltip="Inspector: a new branch that continues from the chosen alternative"),
    Binding("k", "keep", "Keep up to here", id="inspect_keep",
            tooltip="Inspector: keep the continuation up to and including this token; the rest stays offered"),
    Binding("escape", "leave", "Back to the text", id="inspect_leave", tooltip="Inspector: back to the editor"),
]
"""The token inspector's keys (`scribe.ui.widgets.stream_view`, while the continuation has the focus)."""

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

CONTEXT_TOOLS_BINDINGS: list[BindingType] = [
    Binding("escape", "close", "Close", id="context_close", priority=True,
            tooltip="Context tools: close (changes are saved)"),
    Binding("alt+n", "add_entry", "New entry", id="context_add_entry", priority=True,
            tooltip="Context tools: add a lorebook entry"),
    Binding("alt+x", "delete_entry", "Delete entry", id="context_delete_entry", priority=True,
            tooltip="Context tools: delete the highlighted lorebook entry"),
]
"""The context tools' keys (`scribe.ui.screens.context_tools`). All are priority bindings, so they work from inside
the screen's text fields, whose own keys (ctrl+w deletes a word) would otherwise take a key remapped here."""

EDITOR_BINDINGS: list[BindingType] = [
    Binding("ctrl+home", "document_start", "Start of text", id="text_start", show=False,
            tooltip="Text: go to the start of the document"),
    Binding("ctrl+end", "document_end", "End of text", id="text_end", show=False,
            tooltip="Text: go to the end of the document"),
]
"""The editor's own keys (`scribe.ui.widgets.editor`), besides a text area's usual ones."""

DRAFT_BINDINGS: list[BindingType] = [
    Binding("escape", "close", "Back", id="draft_close",
            tooltip="Draft: back to the continuation (your edits come back with ctrl+e)"),
]
"""The draft's keys (`scribe.ui.widgets.draft`); tab keeps the draft (the studio's accept)."""

PRESETS_BINDINGS: list[BindingType] = [
    Binding("escape", "dismiss(None)", "Cancel", id="presets_close", tooltip="Presets: close"),
]

EXPORT_BINDINGS: list[BindingType] = [
    Binding("escape", "dismiss(None)", "Cancel", id="export_close", tooltip="Export: close"),
]

ACTION_MENU_BINDINGS: list[BindingType] = [
    Binding("escape", "dismiss(None)", "Cancel", id="actions_close", tooltip="Actions menu: close without an action"),
]
"""The rewrite actions menu's keys (`scribe.ui.screens.rewrite`)."""

PREVIEW_BINDINGS: list[BindingType] = [
    Binding("escape,q", "dismiss(None)", "Close", id="preview_close", tooltip="Prompt preview: close"),
]

CHAPTERS_BINDINGS: list[BindingType] = [
    Binding("escape", "dismiss(None)", "Close", id="chapters_close", tooltip="Chapters: close"),
]

ANALYSIS_VIEW_BINDINGS: list[BindingType] = [
    Binding("left,h", "move(-1)", "Token ←", id="analysis_prev_token", tooltip="Analysis views: the previous token"),
    Binding("right,l", "move(1)", "Token →", id="analysis_next_token", tooltip="Analysis views: the next token"),
    Binding("home", "move_to(0)", "First", id="analysis_first_token", show=False,
            tooltip="Analysis views: the first token"),
    Binding("end", "move_to(-1)", "Last", id="analysis_last_token", show=False,
            tooltip="Analysis views: the last token"),
    Binding("escape,q", "app.pop_screen", "Close", id="analysis_close", tooltip="Analysis views: back to the text"),
]
"""The keys of the attention and distribution views (`scribe.ui.screens.analysis`)."""

ATTENTION_BINDINGS: list[BindingType] = [
    Binding("left_square_bracket", "layer(-1)", "Layer −", id="attention_prev_layer",
            tooltip="Attention view: the previous layer"),
    Binding("right_square_bracket", "layer(1)", "Layer +", id="attention_next_layer",
            tooltip="Attention view: the next layer"),
    Binding("minus,comma", "head(-1)", "Head −", id="attention_prev_head", tooltip="Attention view: the previous head"),
    Binding("equals_sign,full_stop", "head(1)", "Head +", id="attention_next_head",
            tooltip="Attention view: the next head"),
    Binding("m", "mean", "Mean of heads", id="attention_mean", tooltip="Attention view: the mean over the heads"),
]
"""The attention view's own keys (`scribe.ui.screens.attention`), besides the analysis views' ones."""

SWEEP_BINDINGS: list[BindingType] = [
    Binding("ctrl+r", "run", "Run", id="sweep_run", priority=True, tooltip="Sweep: sample over the grid"),
    Binding("escape", "stop_or_close", "Stop / close", id="sweep_close",
            tooltip="Sweep: stop sampling, or back to the text"),
]

EVALUATION_BINDINGS: list[BindingType] = [
    Binding("ctrl+r", "run", "Run", id="evaluation_run", priority=True,
            tooltip="Evaluation: score the models on the files"),
    Binding("escape", "stop_or_close", "Stop / close", id="evaluation_close", priority=True,
            tooltip="Evaluation: stop scoring, or back to the text"),
    Binding("ctrl+q", "stop_and_quit", "Quit", id="evaluation_quit", priority=True, show=False,
            tooltip="Evaluation: stop scoring and quit scribe"),
]

TRAINING_SCREEN_BINDINGS: list[BindingType] = [
    Binding("escape", "close", "Cancel / close", id="training_close",
            tooltip="Training: cancel the run (it saves a checkpoint first), or back to the text"),
]
"""The training screen's keys (`scribe.ui.screens.training`)."""

HELP_BINDINGS: list[BindingType] = [
    Binding("escape,q,f1", "dismiss(None)", "Close", id="help_close", tooltip="Keys: close this list"),
]

OPEN_BINDINGS: list[BindingType] = [
    Binding("escape", "dismiss(None)", "Cancel", id="open_cancel", tooltip="Open: keep the document that is open"),
]

SAVE_AS_BINDINGS: list[BindingType] = [
    Binding("escape", "dismiss(None)", "Cancel", id="save_as_cancel", tooltip="Save as: do not save"),
]

SAVE_CONFLICT_BINDINGS: list[BindingType] = [
    Binding("o", "choose('overwrite')", "Overwrite", id="conflict_overwrite",
            tooltip="File changed on disk: overwrite it with your text"),
    Binding("r", "choose('reload')", "Reload", id="conflict_reload",
            tooltip="File changed on disk: load it (your text is kept as a copy)"),
    Binding("a", "choose('save_as')", "Save as", id="conflict_save_as",
            tooltip="File changed on disk: save your text under another name"),
    Binding("d", "toggle_diff", "Difference", id="conflict_diff",
            tooltip="File changed on disk: show or hide what differs"),
    Binding("escape,c", "choose('cancel')", "Cancel", id="conflict_cancel",
            tooltip="File changed on disk: do not save now"),
]
"""The keys of the question asked when the file changed on disk (`scribe.ui.screens.save_conflict`)."""

CONFIRM_QUIT_BINDINGS: list[BindingType] = [
    Binding("s", "choose('save')", "Save", id="quit_save", tooltip="Unsaved changes: save, then quit"),
    Binding("q", "choose('discard')", "Quit without saving", id="quit_discard",
            tooltip="Unsaved changes: quit without saving them"),
    Binding("escape,c", "choose('cancel')", "Cancel", id="quit_cancel", tooltip="Unsaved changes: do not quit"),
]

RECOVER_BINDINGS: list[BindingType] = [
    Binding("r", "choose(True)", "Restore", id="recover_restore",
            tooltip="Unsaved text from a crash: put it back in the editor"),
    Binding("d", "choose(False)", "Discard", id="recover_discard", tooltip="Unsaved text from a crash: discard it"),
]

CONFIRM_BINDINGS: list[BindingType] = [
    Binding("y", "choose(True)", "Yes", id="confirm_yes", tooltip="A question that cannot be undone: yes"),
    Binding("n,escape", "choose(False)", "No", id="confirm_no", tooltip="A question that cannot be undone: no"),
]
"""The keys of a yes/no question about something that cannot be undone (`ConfirmScreen`)."""


@dataclass(frozen=True)
class KeyGroup:
    """The keys of one screen or widget, and what the help screen calls it."""

    name: str
    bindings: Sequence[BindingType]
    opened_by: tuple[str, ...] = ()
    """The ids of the studio keys that open it (their keys are shown beside its name)."""
    shares_keys_with: Sequence[BindingType] = ()
    """Bindings active alongside these on the same screen (a base class's): a remap must not clash with them."""

    def where(self, keymap: Mapping[str, str]) -> str:
        """Its name on the help screen, with the first key of each studio binding that opens it."""
        keys = [effective_keys(BY_ID[i], keymap).split(",")[0] for i in self.opened_by]
        return f"{self.name} ({', '.join(keys)})" if keys else self.name


KEY_GROUPS: tuple[KeyGroup, ...] = (
    KeyGroup("studio", [*STUDIO_BINDINGS, *ANALYSIS_BINDINGS, *TRAINING_BINDINGS]),
    KeyGroup("text", EDITOR_BINDINGS),
    KeyGroup("token inspector", INSPECTOR_BINDINGS, ("inspect",)),
    KeyGroup("draft", DRAFT_BINDINGS, ("edit",)),
    KeyGroup("tree view", TREE_BINDINGS, ("tree",)),
    KeyGroup("compare", COMPARE_BINDINGS, ("compare",)),
    KeyGroup("presets", PRESETS_BINDINGS, ("presets",)),
    KeyGroup("model picker", MODELS_BINDINGS, ("models",)),
    KeyGroup("actions menu", ACTION_MENU_BINDINGS, ("actions",)),
    KeyGroup("context tools", CONTEXT_TOOLS_BINDINGS, ("context",)),
    KeyGroup("prompt preview", PREVIEW_BINDINGS, ("context_preview",)),
    KeyGroup("chapters", CHAPTERS_BINDINGS, ("chapters",)),
    KeyGroup("export", EXPORT_BINDINGS, ("export",)),
    KeyGroup("analysis views", ANALYSIS_VIEW_BINDINGS, ("attention", "distribution")),
    KeyGroup("attention view", ATTENTION_BINDINGS, ("attention",), shares_keys_with=ANALYSIS_VIEW_BINDINGS),
    KeyGroup("sweep", SWEEP_BINDINGS, ("sweep",)),
    KeyGroup("evaluation", EVALUATION_BINDINGS, ("evaluate",)),
    KeyGroup("training", TRAINING_SCREEN_BINDINGS, ("training",)),
    KeyGroup("keys", HELP_BINDINGS, ("help",)),
    KeyGroup("open a file", OPEN_BINDINGS, ("open",)),
    KeyGroup("save as", SAVE_AS_BINDINGS, ("save",)),
    KeyGroup("file changed on disk, when saving", SAVE_CONFLICT_BINDINGS, ("save",)),
    KeyGroup("unsaved changes, when quitting", CONFIRM_QUIT_BINDINGS, ("quit",)),
    KeyGroup("unsaved text after a crash (when a file opens)", RECOVER_BINDINGS),
    KeyGroup("yes-or-no questions (deleting a branch, replaying with another model)", CONFIRM_BINDINGS),
)
"""Every binding of scribe, by where it applies, in the help screen's order."""

ANYWHERE = frozenset({"help", "change_theme"})
"""Studio actions that also work over a dialog or another screen; every other one applies on the main screen only.

They are also the only studio actions bound with priority that run the moment the app sees their key: they neither
read nor change the text. Every other priority binding (continue, accept, keep, save, quit...) runs once the focused
widget has taken the keys typed before it (`ScribeApp.run_action`), so a burst of typing then ctrl+j continues the
text with the typed keys in it."""


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


BY_ID: dict[str, Binding] = {b.id: b for group in KEY_GROUPS for b in bindings_of(group.bindings) if b.id}
"""Every binding of the table by its id."""


def effective_keys(binding: Binding, keymap: Mapping[str, str]) -> str:
    """The keys a binding answers to after the writer's remapping."""
    return keymap.get(binding.id or "", binding.key)


def key_rows(keymap: Mapping[str, str], groups: Iterable[KeyGroup] = KEY_GROUPS) -> list[KeyRow]:
    """Help-screen rows for each group, with the keys in effect after `keymap`."""
    return [KeyRow(group.where(keymap), b.id or "", effective_keys(b, keymap), b.description, b.tooltip)
            for group in groups for b in bindings_of(group.bindings)]


def declared_bindings(node_class: type) -> list[Binding]:
    """The table's bindings a screen, widget or app class declares, its base classes' first (as Textual merges them)."""
    found: list[Binding] = []
    for cls in reversed(node_class.__mro__):
        found += [b for b in bindings_of(cls.__dict__.get("BINDINGS", ())) if BY_ID.get(b.id or "") is b]
    return found


def keymap_of(node: DOMNode) -> Mapping[str, str]:
    """The writer's remappings in effect in `node`'s app (the studio's; another app keeps the defaults)."""
    keymap_in_use = getattr(node.app, "keymap_in_use", None)
    return keymap_in_use() if keymap_in_use else {}


def shown_key(key: str) -> str:
    """One key as hints and buttons show it, its modifiers kept: "esc", "⏎", "alt+←", "ctrl+t"."""
    *modifiers, name = key.strip().split("+")
    return "+".join([*modifiers, format_key(name)])


def keys_shown(node: DOMNode, binding_id: str) -> str:
    """The keys of binding `binding_id` in effect in `node`'s app, as a button shows them ("n, esc")."""
    return ", ".join(shown_key(key) for key in effective_keys(BY_ID[binding_id], keymap_of(node)).split(","))


def hint_key(node: DOMNode, binding_id: str) -> str:
    """The first key of binding `binding_id` in effect in `node`'s app, as a one-line hint names it ("tab accept")."""
    return shown_key(effective_keys(BY_ID[binding_id], keymap_of(node)).split(",")[0])


def hint_pair(node: DOMNode, first_id: str, second_id: str) -> str:
    """The first keys of two opposite bindings as a hint names them: "alt+←/→" when they share their modifiers,
    else both in full ("ctrl+y/ctrl+u")."""
    first, second = hint_key(node, first_id), hint_key(node, second_id)
    head, _, tail = second.rpartition("+")
    return f"{first}/{tail}" if head and first.rpartition("+")[0] == head else f"{first}/{second}"
