"""The writing studio: an editor, a live continuation coloured by probability, a settings panel and a status bar.

The model continues the text at the cursor. The continuation streams into its own view (never into the editor);
accepting inserts it where generation started as one edit, so one undo removes it. The editor stays usable while a
model loads or generates: loading, generating, counting tokens and autosaving run in thread workers.

Every continuation is a node of a branch tree saved beside the document: the run and its state are the headless
`GenerationController` (`scribe/studio/generation.py`), what the writer does with runs and branches the `Branching`
component (`scribe/ui/branching.py`), both owned by the app, as are the `Rewriting` (instruct actions on a passage:
`scribe/ui/rewriting.py`), the `DocumentContext` (memory, author's note, lorebook, chapters:
`scribe/ui/context_actions.py`), the `SaveGuard` (`scribe/ui/save_guard.py`), the `StudioTools` (presets, compare, the
perplexity lens, the context budget, export, themes, the help screen: `scribe/ui/studio_actions.py`), the
`AnalysisViews` (`scribe/ui/screens/open_analysis.py`) and the `TrainingView` (`scribe/ui/screens/open_training.py`);
the App's key actions call them. The studio's keys are one table, `scribe/ui/keys.py`; F1 lists every key. Remap any
of them by id in the `[keys]` table of config.toml, e.g. `continue = "f12"` (alt+h/j/k/l serve terminals whose
alt+arrows move by words):

| id                             | keys                          | what it does                                          |
|--------------------------------|-------------------------------|-------------------------------------------------------|
| `continue`                     | ctrl+enter, ctrl+j, alt+enter | continue the text at the cursor (a new branch of it)  |
| `stop`                         | escape                        | stop generating; what streamed so far stays           |
| `accept`                       | tab, ctrl+t                   | write the shown branch path into the text (one undo)  |
| `keep_word` `keep_sentence`    | ctrl+right, ctrl+down         | keep up to the next word, sentence; the rest stays    |
| `edit`                         | ctrl+e                        | edit the continuation as a draft; tab keeps the draft |
| `drafts`                       | alt+n, f12                    | N continuations (drafts setting), each a sibling      |
| `reject`                       | ctrl+r                        | put the continuation away (it stays in the tree)      |
| `regenerate`                   | ctrl+g                        | a sibling: the same prompt again (fixed seed: +1)     |
| `extend`                       | ctrl+n                        | a child: continue the continuation                    |
| `prev_branch` `next_branch`    | alt+left/h, alt+right/l       | show the previous, next sibling                       |
| `parent_branch` `child_branch` | alt+up/k, alt+down/j          | show the parent, the newest child                     |
| `tree`                         | f4, ctrl+b                    | the whole tree; enter shows a branch                  |
| `inspect`                      | f3, alt+i                     | token inspector: probabilities, alternatives, filters |
| `replay`                       | alt+r                         | regenerate the shown branch from its record, compare  |
| `compare`                      | f9                            | 2-4 presets, same prompt and seed, side by side       |
| `presets` `next_preset`        | f8, alt+p                     | choose or save a preset; switch to the next one       |
| `lens`                         | ctrl+l                        | perplexity lens over the text                         |
| `export`                       | alt+e                         | Markdown (with or without the tree), tree as JSON     |
| `theme`                        | alt+t                         | choose a theme (saved to config.toml)                 |
| `save`                         | ctrl+s                        | save the document (asks for a name when untitled)     |
| `open`                         | alt+f                         | open another file (a path or a recent one)            |
| `models`                       | f11, alt+o                    | every model: write with one, or download one          |
| `settings`                     | f2, ctrl+o                    | show or hide the settings panel                       |
| `context` `context_preview`    | alt+c, alt+s                  | memory, author's note, lorebook; the prompt sent      |
| `chapters`                     | alt+u                         | a project's chapters, word counts, search; open one   |
| `help`                         | f1                            | every key                                             |
| `quit`                         | ctrl+q                        | quit (asks first when there are unsaved changes)      |

The analysis and training views' keys are in `scribe/ui/screens/open_analysis.py` and `open_training.py`.

ctrl+enter and alt+enter reach the app only in terminals that report modifiers (the kitty keyboard protocol: kitty,
WezTerm, foot, Ghostty, recent iTerm2); elsewhere, tmux included, ctrl+enter arrives as a plain Enter and alt+enter as
Enter, so use ctrl+j, which every terminal sends. `textual keys` shows what yours sends.
ctrl+z / ctrl+y undo and redo in the editor; undoing an accept un-marks its branch and offers it again. Tab accepts
only from the text, the continuation or the draft: in the settings panel and in forms it moves between fields. In the
token inspector, k keeps the continuation up to the token under the cursor. Settings changed in the panel are saved
to config.toml and to the document's own settings file (`scribe.studio.layered_settings`); the panel names the scope
of each value. ctrl+p opens the command palette, which lists every action.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from textual import work
from textual.actions import ActionParseResult
from textual.actions import parse as parse_action
from textual.app import App, ComposeResult, SystemCommand
from textual.containers import Horizontal, Vertical
from textual.dom import DOMNode
from textual.screen import Screen
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import TextArea

from scribe.config import ConfigError, Paths, Settings, load_settings, save_settings
from scribe.context_length import COUNT_FALLBACK_CONTEXT
from scribe.engine.base import Backend
from scribe.sampling.params import InvalidSetting
from scribe.studio.branch_session import BranchSession
from scribe.studio.branches import BranchFileError
from scribe.studio.document import Document, DocumentError
from scribe.studio.generation import GenerationController
from scribe.studio.generation_runs import GenerationRun, describe_error
from scribe.studio.journal import Autosaver, Journal, JournalEntry, LineChanges, new_untitled_key, same_text
from scribe.studio.project import project_settings
from scribe.studio.recent import load_recent, remember
from scribe.studio.layered_settings import (LayeredSettings, SettingsFileError, load_document_settings,
                                            load_chosen, recommended_sampling, save_chosen, save_document_settings,
                                            value_of, with_values)
from scribe.ui import heap
from scribe.ui.branching import Branching
from scribe.ui.context_actions import ContextAssembled, ContextSaveFailed, DocumentContext, StoryLines
from scribe.ui.keymap import checked_keymap
from scribe.ui.rewriting import Rewriting
from scribe.ui.keys import ANALYSIS_BINDINGS, ANYWHERE, STUDIO_BINDINGS, TRAINING_BINDINGS, bindings_of
from scribe.ui.messages import AutosaveFailed, ModelFailed, ModelLoaded, Replayed, TextScored, TokensCounted
from scribe.ui.save_guard import SaveFinished, SaveGuard
from scribe.ui.screens.dialogs import ConfirmQuitScreen, OpenScreen, QuitChoice, RecoverScreen, SaveAsScreen
from scribe.ui.screens.main import StudioScreen
from scribe.ui.screens.open_analysis import AnalysisViews
from scribe.ui.screens.open_training import TrainingView
from scribe.ui.studio_actions import StudioTools
from scribe.ui.widgets.draft import Draft
from scribe.ui.widgets.editor import Editor
from scribe.ui.widgets.footer import StudioFooter
from scribe.ui.widgets.lens import LensView
from scribe.ui.widgets.settings_panel import RELOAD_FIELDS, SettingsPanel, updated_settings
from scribe.ui.widgets.status_bar import ModelState, StatusBar
from scribe.ui.widgets.stream_view import StreamView
from scribe.ui.worker_threads import ThreadPerTask
from scribe.ui.workers import close_backend, load_backend, model_weights_hash

FRAME_SECONDS = 1 / 30
"""How often streamed tokens are moved from the worker's buffer to the view."""
COUNT_DELAY_SECONDS = 0.4
"""Quiet time after the last edit or cursor move before the tokens before the cursor are counted."""
COUNT_TAIL_CHARS_PER_TOKEN = 16
"""Characters counted before the cursor per token of the model's context: about four times the context (a token is
about four characters of prose), so the count is exact whenever the model can see all of it."""


def tail_start(lines: list[str], end: tuple[int, int], chars: int) -> tuple[int, int]:
    """The location `chars` characters (newlines counted) before `end` in `lines`, or (0, 0) when the text before
    `end` is shorter; walks back line by line, so it costs the tail's length, not the document's."""
    row, column = end
    need = chars
    while True:
        if column >= need:
            return row, column - need
        if row == 0:
            return 0, 0
        need -= column + 1
        row -= 1
        column = len(lines[row])


_W = TypeVar("_W", bound=Widget)
_MAIN_SCREEN_ACTIONS = frozenset(b.action.split("(")[0] for b in bindings_of(STUDIO_BINDINGS)) - ANYWHERE
"""Actions that apply only on the main screen (not in dialogs, other screens or the command palette)."""
_AFTER_TYPED_KEYS = frozenset(b.action.split("(")[0] for b in bindings_of([*STUDIO_BINDINGS, *ANALYSIS_BINDINGS,
                                                                          *TRAINING_BINDINGS]) if b.priority) - ANYWHERE
"""Actions of priority bindings that run after the keys typed before them (`ScribeApp.run_action`)."""


class ScribeApp(App[None]):
    """The TUI. `path` is the document to open (None: untitled)."""

    TITLE = "scribe"
    CSS = """
    #main { height: 1fr; }
    #writing { width: 1fr; }
    #editor { height: 2fr; border: round $primary; }
    #editor:focus { border: round $accent; }
    #stream { height: 1fr; min-height: 6; }
    #stream:focus { height: 2fr; }
    """
    BINDINGS = [
        *STUDIO_BINDINGS,
        *ANALYSIS_BINDINGS,
        *TRAINING_BINDINGS,
    ]

    def __init__(self, path: str | Path | None = None, *, settings: Settings | None = None, paths: Paths | None = None) -> None:
        super().__init__()
        self.paths = paths or Paths.discover()
        self.open_error: str | None = None
        try:
            self.document = Document.open(path) if path is not None else Document()
        except DocumentError as exc:
            self.document, self.open_error = Document(), str(exc)
        self.settings_error: str | None = None
        """Why the document's own settings could not be read (they are then neither used nor overwritten)."""
        try:
            own = load_document_settings(self.document.path)
        except SettingsFileError as exc:
            own, self.settings_error = {}, str(exc)
        project, self.project_error = project_settings(self.document.path)
        self.layers = LayeredSettings(settings or load_settings(self.paths), own,
                                      chosen=load_chosen(self.paths.config_file), project=project)
        """The settings' scopes: global, the model's recommendations, the document's own."""
        self.settings = self.layers.effective()
        self.journal = Journal(self.paths.autosave)
        self.autosaver = Autosaver(self.journal, self.document.key or new_untitled_key(), self.document)
        self.backend: Backend | None = None
        self.model_state: ModelState = "no model"
        self._backend_lock = threading.Lock()
        self._first_frame = threading.Event()
        """Set once the first screen is drawn (the footer says when its keys are on it): model loading waits for it,
        as loading torch's libraries holds the GIL for about 0.5 s."""
        self._load_request = 0
        self._count_request = 0
        self._count_bounded = False
        self._version = 0
        self._journalled_version = 0
        self._autosave_on = True
        self._changes = LineChanges()
        """The editor's edits not yet handed to the autosaver (`_track_editor` makes it record them)."""
        self._count_timer: Timer | None = None
        self._drain_timer: Timer | None = None
        self._widgets: dict[str, Widget] = {}
        self._keymap_in_use: dict[str, str] = {}
        """The writer's remappings applied when the app started (`keymap_in_use`)."""
        self.weights_hash: str | None = None
        """sha256 of the loaded model's weights (recorded in every branch)."""
        self.branch_error: str | None = None
        try:
            branches = BranchSession.for_document(self.document.path)
        except BranchFileError as exc:  # keep the unreadable file: branches of this session are not saved
            branches, self.branch_error = BranchSession(), str(exc)
        self.generation = GenerationController(branches)
        """The run being generated or shown, its state, and the branch tree it grows (headless)."""
        self.branching = Branching(self)
        """Starting runs and showing them, accepting, rejecting, moving in the tree, replaying, the sidecar."""
        self.rewriting = Rewriting(self)
        """Instruct actions on the selected passage: the menu, the answers (branches), accepting one in its place."""
        self.save_guard = SaveGuard(self)
        """Conflict checks before saving, on focus and at autosave; journalling when typing pauses."""
        self.context = DocumentContext(self)
        """Memory, author's note and lorebook: the prompt assembled with them, its preview, the meter; chapters."""
        self.analysis = AnalysisViews(self)
        """Opens the attention, distribution, sweep and evaluation views."""
        self.training = TrainingView(self)
        """Opens the training screen."""
        self.tools = StudioTools(self)
        """Presets, compare, the lens, the context budget, export, themes, the model picker, help, the palette."""

    # --- layout and start-up

    def get_default_screen(self) -> StudioScreen:
        """The main screen, whose frames catch up when late (see `StudioScreen`)."""
        return StudioScreen(id="_default")

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            with Vertical(id="writing"):
                yield Editor(self.document.saved_text, id="editor")
                yield LensView(id="lens")
                yield StreamView(id="stream")
                yield Draft(id="draft")
            yield SettingsPanel(self.settings, id="settings")
        yield StatusBar(id="status")
        yield StudioFooter()

    @property
    def editor(self) -> Editor:
        """The writer's text."""
        return self._widget("#editor", Editor)

    @property
    def stream_view(self) -> StreamView:
        """The continuation view."""
        return self._widget("#stream", StreamView)

    @property
    def draft(self) -> Draft:
        """The continuation as an editable draft (shown in the continuation's place while open)."""
        return self._widget("#draft", Draft)

    @property
    def draft_open(self) -> bool:
        """True while the writer edits the continuation (False before the widgets are mounted)."""
        draft = self._widgets.get("#draft")
        return isinstance(draft, Draft) and draft.is_open

    @property
    def lens_view(self) -> LensView:
        """The perplexity lens (shown in the editor's place while on)."""
        return self._widget("#lens", LensView)

    @property
    def status_bar(self) -> StatusBar:
        """The status line."""
        return self._widget("#status", StatusBar)

    @property
    def settings_panel(self) -> SettingsPanel:
        """The settings panel."""
        return self._widget("#settings", SettingsPanel)

    def _widget(self, selector: str, kind: type[_W]) -> _W:
        """A main-screen widget, kept once found: late messages and the last autosave run while the app shuts down."""
        if selector not in self._widgets:
            self._widgets[selector] = self.query_one(selector, kind)
        return self._widgets[selector]  # type: ignore[return-value]

    def on_mount(self) -> None:
        asyncio.get_running_loop().set_default_executor(ThreadPerTask())  # before any thread worker starts
        for selector, kind in (("#editor", Editor), ("#lens", LensView), ("#stream", StreamView), ("#draft", Draft),
                               ("#status", StatusBar), ("#settings", SettingsPanel)):
            self._widget(selector, kind)
        self._apply_keymap()
        self.tools.register_themes()
        self.tools.show_preset()
        self.editor.focus()
        self.editor.move_cursor(self.editor.document.end)
        self._track_editor()
        if self.branch_error:
            self.notify(self.branch_error + "; new branches are not saved", title="Branches", severity="error",
                        timeout=15, markup=False)
        elif self.branches.current is not None:
            self.show_node(self.branches.current.id)
        self._update_document_status()
        self._drain_timer = self.set_interval(FRAME_SECONDS, self.branching.drain, pause=True)
        self.set_interval(self.settings.autosave_seconds, self.autosave)
        if self.open_error:
            self.notify(self.open_error, title="Not opened", severity="error", timeout=15)
        if self.settings_error:
            self.notify(self.settings_error, title="Document settings", severity="error", timeout=15, markup=False)
        if self.project_error:
            self.notify(self.project_error, title="Project", severity="error", timeout=15, markup=False)
        self.settings_panel.show(self.settings, self._scopes())
        self._offer_recovery()
        self._remember()
        self.load_model()

    def _remember(self) -> None:
        """Put the document first among the recent ones (the open prompt lists them)."""
        if self.document.path is not None:
            try:
                remember(self.paths.data, self.document.path)
            except OSError:
                pass  # a list of recent files is a convenience: not worth interrupting the writer

    def on_studio_footer_drawn(self) -> None:
        self._first_frame.set()

    def keymap_in_use(self) -> dict[str, str]:
        """The writer's remappings the keys answer to (those `checked_keymap` refused left out): what F1, the
        palette and every key hint show."""
        return self._keymap_in_use

    def _apply_keymap(self) -> None:
        keymap, problems = checked_keymap(self.settings.keys)
        for problem in problems:
            self.notify(problem, title="Keys refused", severity="warning", timeout=15, markup=False)
        self._keymap_in_use = keymap
        self.set_keymap(keymap)

    def _offer_recovery(self) -> None:
        """Offer text a crashed session left, for this file or (when untitled) an orphaned untitled document."""
        key = self.autosaver.key
        if self.document.path is not None:
            entry = self.journal.recovery_for(self.document)
        elif self.open_error is None:
            entry = next(iter(self.journal.orphans()), None)
        else:
            entry = None
        self.save_guard.report_journal_problems()
        if not self.journal.claim(key):
            self._autosave_on = False
            holder = self.journal.holder(key)
            self.notify(f"{self.document.title} is open in another scribe (process {holder or '?'}); autosave is off "
                        "here", severity="warning", markup=False)
            return
        if entry is not None:
            changed = entry.path is not None and entry.disk_hash != self.document.disk_hash
            self.push_screen(RecoverScreen(entry, file_changed=changed), lambda restore: self._recover(entry, bool(restore)))

    def _recover(self, entry: JournalEntry, restore: bool) -> None:
        if entry.untitled and restore:
            self.autosaver.rekey(entry.key)
        elif entry.untitled:
            self.journal.clear(entry.key)
        elif not restore:
            self.autosaver.clear(self._version)
        if restore:
            editor = self.editor
            editor.replace(entry.text, editor.document.start, editor.document.end)
            self.notify("unsaved text restored (ctrl+z goes back to the file)")
        self.editor.focus()

    # --- model loading

    def load_model(self) -> None:
        """(Re)load `settings.model` in a worker; the editor stays usable meanwhile."""
        self._stop_generation()
        self._load_request += 1
        old, self.backend = self.backend, None
        self._set_model_state("loading", model=self.settings.model, device="", dtype="", tokens_per_s=None,
                              context_tokens=None, context_length=None)
        self._load_worker(self._load_request, old, self.settings)

    def use_model(self, name: str | None) -> None:
        """Write with model `name`, as if typed in the settings panel (the model picker's or the training screen's
        choice; None when the writer chose none)."""
        if name:
            self.apply_setting("model", name)

    @work(thread=True, exclusive=True, exit_on_error=False, group="model", description="load model")
    def _load_worker(self, request: int, old: Backend | None, settings: Settings) -> None:
        self._first_frame.wait(timeout=2.0)
        if old is not None:
            close_backend(old, self._backend_lock)
        outcome: ModelLoaded | ModelFailed
        try:
            backend = load_backend(settings.model, device=settings.device, dtype=settings.dtype,
                                   trust_remote_code=settings.trust_remote_code,
                                   notice=lambda line: self.call_from_thread(self.status_bar.update_status, notice=line))
        except Exception as exc:  # every failure is shown; the editor keeps running
            outcome = ModelFailed(request, describe_error(exc))
        else:
            outcome = ModelLoaded(request, backend, model_weights_hash(backend, self.paths.cache),
                                  recommended_sampling(backend.info.location))
        heap.settle()  # before the writer gets the model: the libraries just imported leave the collector's walks
        self.post_message(outcome)

    def on_model_loaded(self, message: ModelLoaded) -> None:
        if message.request != self._load_request:
            self._close_worker(message.backend)
            return
        self.backend = message.backend
        self.weights_hash = message.weights_hash
        info = message.backend.info
        self._set_model_state("ready", model=info.name, device=info.device, dtype=info.dtype,
                              context_length=info.context_length)
        self.settings_panel.mark_unavailable(message.backend.unsupported, info.name)
        self.layers.recommended = message.recommended
        self._use_settings(self.layers.effective())
        self._warn_ignored()
        if message.backend.slower_because:
            self.notify(message.backend.slower_because, title="Slower decoding", severity="warning", timeout=12,
                        markup=False)
        self.branching.replay_pending()
        self._schedule_count()

    def _warn_ignored(self) -> None:
        """Say which of the current sampling settings the loaded model cannot apply (none are dropped silently)."""
        backend = self.backend
        ignored = backend.ignored(self.settings.sampling) if backend is not None else ()
        if backend is not None and ignored:
            self.notify(f"{', '.join(ignored)}: not applied by {backend.info.name}; see the settings panel",
                        title="Settings unavailable", severity="warning", timeout=8, markup=False)

    def on_model_failed(self, message: ModelFailed) -> None:
        if message.request != self._load_request:
            return
        self._set_model_state("error", error=message.error)
        self.branching.replay_after_load = None
        self.notify(message.error, title=f"Model {self.settings.model} not loaded", severity="error", timeout=15,
                    markup=False)

    @work(thread=True, exit_on_error=False, group="close", description="close model")
    def _close_worker(self, backend: Backend) -> None:
        close_backend(backend, self._backend_lock)

    # --- generation: the run is `self.generation` (headless), what the writer does with it `self.branching`

    @property
    def branches(self) -> BranchSession:
        """The document's branch tree and the position in it."""
        return self.generation.branches

    @property
    def run_state(self) -> GenerationRun | None:
        """The continuation being generated or shown (None when there is none)."""
        return self.generation.run

    @run_state.setter
    def run_state(self, run: GenerationRun | None) -> None:
        """A run with no node (an instruct action's answer, `scribe.ui.rewriting`) becomes the one streaming and
        shown; None: no run is current."""
        if run is None:
            self.generation.clear()
        else:
            self.generation.watch(run)

    @property
    def generating(self) -> bool:
        """True while a run streams, until its end is shown."""
        return self.generation.generating

    @generating.setter
    def generating(self, value: bool) -> None:
        """True confirms the run just set as `run_state` streams; False cancels the run."""
        if not value:
            self.generation.cancel()
        elif not self.generation.generating:
            raise ValueError("set run_state to the run first")

    @property
    def last_replay(self) -> tuple[str, str] | None:
        """(replayed text, recorded text) of the last replay."""
        return self.branching.last_replay

    def action_continue(self) -> None:
        """Continue the text at the cursor: a new branch of that text."""
        self.branching.continue_text()

    def action_drafts(self) -> None:
        """N continuations of the text at the cursor (the drafts setting), each a sibling."""
        self.branching.drafts()

    def action_regenerate(self) -> None:
        """A sibling of the shown branch: its prompt again."""
        self.branching.regenerate()

    def action_extend(self) -> None:
        """A child of the shown branch: continue the continuation."""
        self.branching.extend()

    def action_inspect(self) -> None:
        """Move over the shown branch's tokens in the token inspector."""
        self.branching.inspect()

    def action_stop(self) -> None:
        """Stop generating; what streamed so far stays."""
        self.branching.stop()

    def action_accept(self) -> None:
        """Write the offered text (or the draft, or an action's answer) into the document, as one undo step."""
        self.branching.accept()

    def action_keep(self, unit: str) -> None:
        """Keep the offered text up to the end of its next `word` or `sentence`."""
        self.branching.keep(unit)

    def action_reject(self) -> None:
        """Put the continuation away (it stays in the tree)."""
        self.branching.reject()

    def action_edit(self) -> None:
        """Edit the offered continuation as a draft."""
        self.branching.edit()

    def action_sibling(self, step: int) -> None:
        """Show the sibling branch `step` places away."""
        self.branching.sibling(step)

    def action_branch_parent(self) -> None:
        """Show the branch the shown one continues."""
        self.branching.parent()

    def action_branch_child(self) -> None:
        """Show the newest continuation of the shown branch."""
        self.branching.child()

    def action_tree(self) -> None:
        """Show the whole branch tree."""
        self.branching.tree()

    def action_replay(self) -> None:
        """Regenerate the shown branch from its record and compare."""
        self.branching.replay()

    def on_stream_view_branch_from(self, message: StreamView.BranchFrom) -> None:
        self.branching.branch_from(message)

    def on_stream_view_left(self, message: StreamView.Left) -> None:
        self.editor.focus()

    def on_stream_view_keep_to(self, message: StreamView.KeepTo) -> None:
        self.branching.keep_to(message.length)

    def on_editor_undone(self, message: Editor.Undone) -> None:
        self.branching.undone(message)
        self.rewriting.undone(message)

    def on_draft_closed(self, message: Draft.Closed) -> None:
        self.branching.close_draft()
        self.editor.focus()

    def on_replayed(self, message: Replayed) -> None:
        self.branching.replayed(message)

    def show_node(self, node_id: str) -> None:
        """Show a branch from the tree, marked where it belongs in the document (else at the cursor)."""
        self.branching.show_node(node_id)

    def _stop_generation(self) -> None:
        """Cancel the running stream and the drafts after it; its node keeps what streamed."""
        self.branching.stop_generation()

    def _clear_continuation(self) -> None:
        """Nothing offered any more."""
        self.branching.clear_continuation()

    # --- the studio's other tools (`self.tools`) and the analysis views (`self.analysis`)

    def action_presets(self) -> None:
        """Choose a preset, or save the current settings as one."""
        self.tools.choose_preset()

    def action_next_preset(self) -> None:
        """Switch to the next preset in the list."""
        self.tools.next_preset()

    def action_compare(self) -> None:
        """Run 2-4 presets on the text before the cursor with one seed, side by side."""
        self.tools.compare()

    def action_lens(self) -> None:
        """Toggle the perplexity lens over the writer's text."""
        self.tools.toggle_lens()

    def on_text_scored(self, message: TextScored) -> None:
        self.tools.text_scored(message)

    def action_export(self) -> None:
        """Export the document or its tree beside it."""
        self.tools.export()

    def action_models(self) -> None:
        """List every model; the one chosen is loaded."""
        self.tools.models()

    def action_help(self) -> None:
        """Show every key, those of the screen that is open first."""
        self.tools.help()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """The command palette's entries (`StudioTools.system_commands`)."""
        return self.tools.system_commands(screen, super().get_system_commands(screen))


    def action_attention(self) -> None:
        """Open the attention view."""
        self.analysis.attention()

    def action_distribution(self) -> None:
        """Open the next-token distribution view."""
        self.analysis.distribution()

    def action_sweep(self) -> None:
        """Open the sweep view on the text before the cursor."""
        self.analysis.sweep()

    def action_evaluate(self) -> None:
        """Open the model evaluation view."""
        self.analysis.evaluate()

    def action_training(self) -> None:
        """Open the training screen."""
        self.training.open()

    # --- instruct actions on the selected passage (`self.rewriting`)

    def action_rewrite_menu(self, ask: str | None = None) -> None:
        """Choose an action for the selected passage."""
        self.rewriting.menu(ask)

    # --- the document's context tools and a project's chapters (`self.context`)

    def action_context_tools(self) -> None:
        """Edit the memory, author's note and lorebook."""
        self.context.edit()

    def action_context_preview(self) -> None:
        """Show the exact prompt the next continuation sends."""
        self.context.preview()

    def on_context_assembled(self, message: ContextAssembled) -> None:
        self.context.assembled(message)

    def on_context_save_failed(self, message: ContextSaveFailed) -> None:
        self.context.save_failed(message)

    def action_chapters(self) -> None:
        """The project's chapters; enter opens one here."""
        self.context.chapters()

    def _model_ready(self) -> bool:
        if self.backend is not None:
            return True
        reason = {"loading": f"the model {self.settings.model} is still loading"}.get(
            self.model_state, "no model loaded: choose one in the settings panel (f2)")
        self.notify(reason, severity="warning")
        return False

    async def run_action(self, action: str | ActionParseResult, default_namespace: DOMNode | None = None,
                         namespaces: Mapping[str, DOMNode] | None = None) -> bool:
        """Run an action; a studio action bound with priority (`_AFTER_TYPED_KEYS`: all but those of
        `keys.ANYWHERE`) runs once the focused widget has taken the keys typed before it.

        Textual runs a priority binding as soon as the app sees its key, while the keys typed just before it may
        still wait in the focused widget's queue: "Hello" then ctrl+j in one burst would continue the text without
        "Hello". So such an action, when it applies now (`check_action`), is queued behind those keys (where Textual
        hands the keys that are not priority bindings: the focused widget, else the screen) and runs there if it
        still applies. The actions of `ANYWHERE` (help, theme) neither read nor change the text and run at once."""
        destination, name, params = parse_action(action) if isinstance(action, str) else action
        on_app = destination == "app" or (not destination and default_namespace in (None, self))
        if not on_app or name not in _AFTER_TYPED_KEYS:
            return await super().run_action(action, default_namespace, namespaces)
        if not self.check_action(name, params):
            return False
        run = partial(super().run_action, ("", name, params), self)
        if not (self.focused or self.screen).call_later(run):
            self.call_later(run)  # the focused widget is closing: nothing waits in its queue any more
        return True

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Studio actions apply on the main screen only; stop, accept, reject and regenerate when they make sense."""
        if action in _MAIN_SCREEN_ACTIONS and not self._on_main_screen():
            return False
        # None shows a key dimmed: the footer keeps the same keys, so it restyles them instead of rebuilding
        if action == "stop":
            return True if self.generating else None
        if action in ("accept", "reject", "regenerate", "keep", "edit"):
            offered = (self.branches.current is not None or self.rewriting.pending is not None) and self._in_the_text()
            if action in ("keep", "edit"):  # in the draft these keys edit it
                offered = offered and not self.draft_open
            return True if offered else None
        return True

    def _in_the_text(self) -> bool:
        """True when the focus is in the writer's text or the continuation (keys like tab belong to a form's fields
        everywhere else: the settings panel's, a dialog's)."""
        return self.focused is None or isinstance(self.focused, (Editor, StreamView, Draft))

    def _on_main_screen(self) -> bool:
        stack = self.screen_stack
        return bool(stack) and self.screen is stack[0]

    # --- tokens before the cursor

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        self._version += 1
        self._schedule_count()
        self.save_guard.schedule_journal()

    def on_text_area_selection_changed(self, event: TextArea.SelectionChanged) -> None:
        self._schedule_count()

    def _schedule_count(self) -> None:
        if self._count_timer is not None:
            self._count_timer.stop()
        self._count_timer = self.set_timer(COUNT_DELAY_SECONDS, self._count_now)

    def _count_now(self) -> None:
        self._update_document_status()
        self.context.measure()
        if self.backend is None or self.generating:
            return
        self._count_request += 1
        start = self._count_start()
        self._count_bounded = start != (0, 0)
        self._count_worker(self.backend, self.context.lines_before_cursor(start), self._count_request)

    def _count_start(self) -> tuple[int, int]:
        """Where the text counted before the cursor starts: at most `COUNT_TAIL_CHARS_PER_TOKEN` characters per token
        of the model's context (the model sees no more); walks back over the lines, never copies the text."""
        assert self.backend is not None
        context = self.backend.info.context_length or COUNT_FALLBACK_CONTEXT
        return tail_start(self.editor.document.lines, self.editor.cursor_location, context * COUNT_TAIL_CHARS_PER_TOKEN)

    @work(thread=True, exclusive=True, exit_on_error=False, group="count", description="count tokens")
    def _count_worker(self, backend: Backend, story: StoryLines, request: int) -> None:
        """Count in a worker with the assembly's cached counter (skipped while a stream holds the backend: the count
        is redone afterwards)."""
        if not self._backend_lock.acquire(blocking=False):
            return
        try:
            count = self.context.count_before_cursor(backend, story)
        finally:
            self._backend_lock.release()
        self.post_message(TokensCounted(request, count))

    def on_tokens_counted(self, message: TokensCounted) -> None:
        if message.request == self._count_request:
            self.tools.show_context(message.count)
            self.status_bar.update_status(count_bounded=self._count_bounded)

    # --- documents, autosave, quitting

    def _modified(self) -> bool:
        """True when the editor's text differs from the file, found without joining the lines (a 50 MB join on this
        thread is a visible stall, and its copy of the text stays until the next edit): a length that differs
        answers at once."""
        saved, document = self.document.saved_text, self.editor.document
        return self.editor.text_length != len(saved) or not same_text(document.lines, document.newline, saved)

    def _track_editor(self) -> None:
        """Journal the editor's text through its edits from now on (when a text is loaded into it)."""
        self._changes = self.editor.record_changes()
        document = self.editor.document
        self.autosaver.track(document.lines, document.newline)

    def _hand_over_edits(self) -> None:
        """Give the autosaver the edits made since the last call (this thread's whole share of an autosave)."""
        self._journalled_version = self._version
        self.autosaver.queue(self._changes.take(), self._version)

    def autosave(self) -> None:
        """Journal the edits made since the last autosave, in a worker (the autosave timer and a pause in typing
        call this); check the file on disk too. This thread only hands the edits over: no copy of the text."""
        self.save_guard.check_disk()
        if not self._autosave_on:
            self._changes.take()  # another scribe journals this document
        elif self._version != self._journalled_version:
            self._hand_over_edits()
            self._autosave_worker(self.autosaver)

    def autosave_now(self) -> bool:
        """Journal the edits not yet journalled now, on this thread (after any autosave still being written); True
        when an entry was written. Nothing to do, at once, when no edit came since the last autosave."""
        if not self._autosave_on:
            return False
        if self._version != self._journalled_version:
            self._hand_over_edits()
        return self.autosaver.write_queued()

    @work(thread=True, exit_on_error=False, group="autosave", description="autosave")
    def _autosave_worker(self, autosaver: Autosaver) -> None:
        try:
            autosaver.write_queued()
        except OSError as exc:
            self.post_message(AutosaveFailed(str(exc)))

    def on_autosave_failed(self, message: AutosaveFailed) -> None:
        self.notify(f"autosave failed: {message.error}", severity="error", markup=False)

    def action_save(self) -> None:
        """Save the document; an untitled one asks for a file name first."""
        if self.document.path is None:
            self.push_screen(SaveAsScreen(), self.save_as)
        else:
            self.save()

    def save_as(self, name: str | None, then_quit: bool = False) -> None:
        """Save under the name the writer typed (None: they cancelled); an existing file is refused."""
        if name is None:
            return
        target = Path(name).expanduser().absolute()
        if target.exists():
            self.notify(f"{target} already exists; choose another name", severity="error", markup=False)
            return
        self.save(target, then=self.exit if then_quit else None)

    def save(self, path: Path | None = None, *, overwrite: bool = False,
             then: Callable[[], object] | None = None) -> None:
        """Write the document (atomically) and clear its autosave entry, then run `then`; a notification says when it
        is written or why not (a long text is written in a worker: see `SaveGuard.save`).

        A file changed on disk since it was read asks what to do; a read-only one offers "save as"."""
        self.save_guard.save(path, overwrite=overwrite, then=then)

    def on_save_finished(self, message: SaveFinished) -> None:
        self.save_guard.finish(message.job, message.outcome)

    def journal_again(self) -> None:
        """Journal the text now, whatever was journalled before (a save cleared the entry while it held newer
        edits)."""
        self._journalled_version = -1
        self.autosave()

    def action_open(self) -> None:
        """Ask for another document (a path or a recent one) and open it here; not while this one has unsaved
        changes (nothing is lost: save or undo them first)."""
        if self.save_guard.saving is not None:
            self.notify(f"{self.document.title} is being saved: open another once it is written", severity="warning",
                        markup=False)
            return
        if self.document.is_dirty(self.editor.text):
            self.notify(f"{self.document.title} has unsaved changes: save them (ctrl+s) first", severity="warning",
                        markup=False)
            return
        recent = [str(p) for p in load_recent(self.paths.data) if p != self.document.path]
        self.push_screen(OpenScreen(recent), self._open_chosen)

    def _open_chosen(self, name: str | None) -> None:
        if name is None:
            return
        try:
            document = Document.open(name)
        except DocumentError as exc:
            self.notify(str(exc), title="Not opened", severity="error", markup=False)
            return
        try:
            branches, branch_error = BranchSession.for_document(document.path), None
        except BranchFileError as exc:
            branches, branch_error = BranchSession(), str(exc)
        try:
            own, settings_error = load_document_settings(document.path), None
        except SettingsFileError as exc:
            own, settings_error = {}, str(exc)
        self._stop_generation()
        self._clear_continuation()
        self.branching.flush()
        self.autosaver.clear(self._version)
        self.journal.release(self.autosaver.key)
        self.document, self.generation.branches, self.branch_error = document, branches, branch_error
        self.branching.new_document()
        self.settings_error = settings_error
        self.autosaver = Autosaver(self.journal, document.key or new_untitled_key(), document)
        self.editor.load_text(document.saved_text)
        self.editor.move_cursor(self.editor.document.end)
        self.editor.focus()
        self._track_editor()
        self._version += 1
        self._journalled_version = self._version
        self._autosave_on = True
        before = self.settings
        self.layers.document = own
        self.layers.project, self.project_error = project_settings(document.path)
        self._use_settings(self.layers.effective())
        if self.settings.model != before.model or self.settings.device != before.device or self.settings.dtype != before.dtype:
            self.load_model()
        for error in (branch_error, settings_error, self.project_error):
            if error:
                self.notify(error, severity="error", timeout=15, markup=False)
        if self.branches.current is not None:
            self.show_node(self.branches.current.id)
        self._update_document_status()
        self._remember()
        self._offer_recovery()
        self.notify(f"opened {document.path}", markup=False)

    async def action_quit(self) -> None:
        """Quit; with unsaved changes, ask whether to save, discard or stay. While the text as it is now is being
        saved, quit once it is written."""
        saving = self.save_guard.saving
        if saving is not None and saving.version == self._version:
            saving.then.append(self.exit)
            self._say_quitting_after_save()
            return
        if not self._modified():
            self.autosaver.clear(self._version)
            self.exit()
            return
        self.push_screen(ConfirmQuitScreen(self.document.title), self._quit_choice)

    def _quit_choice(self, choice: QuitChoice | None) -> None:
        if choice == "discard":
            self.autosaver.clear(self._version)
            self.exit()
        elif choice == "save":
            if self.document.path is None:
                self.push_screen(SaveAsScreen(), lambda name: self.save_as(name, then_quit=True))
            else:
                self.save(then=self.exit)
                if self.save_guard.saving is not None:
                    self._say_quitting_after_save()

    def _say_quitting_after_save(self) -> None:
        self.notify(f"saving {self.document.title}: scribe quits once it is written", markup=False)

    def on_app_focus(self) -> None:
        """The terminal window got focus back: the file may have been edited elsewhere meanwhile."""
        self.save_guard.check_disk()

    def on_unmount(self) -> None:
        """Journal unsaved text on any exit, stop generating, and let go of the document (widgets may be gone)."""
        self.branching.flush()
        try:
            self.autosave_now()  # only an edit since the last autosave is written: no full rewrite at quit
        except OSError:
            pass
        self.journal.release(self.autosaver.key)

    # --- settings

    async def action_toggle_settings(self) -> None:
        """Show or hide the settings panel."""
        panel = self.settings_panel
        if panel.has_class("-open"):
            panel.remove_class("-open")
            self.editor.focus()
        else:
            await panel.open()
            panel.input_for("model").focus()

    def on_settings_panel_edited(self, event: SettingsPanel.Edited) -> None:
        self.apply_setting(event.name, event.text, reload=event.submitted)

    def apply_setting(self, name: str, text: str, *, reload: bool = True) -> bool:
        """Set one setting from typed text. A refused value is notified in one line and the panel shows the value in
        effect again.

        A model, device or dtype change reloads the model; `reload` also retries the same model after an error.
        """
        try:
            changed = updated_settings(self.settings, name, text)
        except InvalidSetting as exc:
            self.notify(str(exc), title="Setting refused", severity="error", markup=False)
            self.settings_panel.show(self.settings, self._scopes(), reset=name)
            return False
        value = value_of(changed, name)
        if value != value_of(self.settings, name):
            self.choose_settings({name: value})
        elif reload and name in RELOAD_FIELDS and self.model_state == "error":
            self.load_model()
        else:
            self.settings_panel.show(self.settings, self._scopes(), reset=name)  # the typed text, tidied
        return True

    def choose_settings(self, values: dict[str, Any]) -> None:
        """The writer chose `values` (the panel, a preset): saved to the global settings file and the document's own
        settings, then used; a model, device or dtype change reloads the model."""
        self.layers.choose(values, in_document=self.document.path is not None and self.settings_error is None)
        self._save_settings(values)
        before = self.settings
        self._use_settings(self.layers.effective())
        if any(value_of(before, name) != value_of(self.settings, name) for name in RELOAD_FIELDS):
            self.load_model()
        elif self.backend is not None and set(values) & self.backend.unsupported:
            self._warn_ignored()

    def _use_settings(self, settings: Settings) -> None:
        self.settings = settings
        self.settings_panel.show(settings, self._scopes())
        self.tools.show_preset()

    def _scopes(self) -> dict[str, str]:
        """Where each setting's value comes from (for the panel's labels)."""
        return {name: self.layers.scope(name) for name in self.settings_panel.names()}

    def _save_settings(self, values: dict[str, Any]) -> None:
        """Write chosen values to the global settings file (what it holds stays) and the document's settings file."""
        try:
            on_file = load_settings(self.paths, environ={})
            save_settings(with_values(on_file, values), self.paths)
            save_chosen(self.paths.config_file, self.layers.chosen)
        except (ConfigError, OSError, InvalidSetting) as exc:
            self.notify(f"settings not saved: {exc}", severity="error", markup=False)
        if self.document.path is not None and self.settings_error is None:
            try:
                save_document_settings(self.document.path, self.layers.document)
            except OSError as exc:
                self.notify(f"document settings not saved: {exc}", severity="error", markup=False)

    # --- status and commands

    def _set_model_state(self, state: ModelState, **changes: Any) -> None:
        self.model_state = state
        self.status_bar.update_status(state=state, **changes)

    def _update_document_status(self) -> None:
        modified = self._modified()
        self.editor.border_title = self.document.title + (" ●" if modified else "")
        self.status_bar.update_status(document=str(self.document.path or "untitled"), modified=modified)
