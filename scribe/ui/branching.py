"""Generating into the branch tree, as the studio shows it: a component the App owns (`ScribeApp.branching`) and
calls from its key actions and message handlers.

The run itself (which branch, its state, recording what streamed) is the headless `GenerationController`
(`scribe.studio.generation`, `ScribeApp.generation`); this component starts its runs on thread workers, moves what
they stream into the continuation view about 30 times a second, and handles what the writer does with the result:
accept (all, a word, a sentence, an edited draft), reject, undo and redo an accept, move between branches, show a
branch from the tree view, replay a branch. The tree is written to the document's sidecar in a worker after each
change, and once more when the app closes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from scribe.engine.base import Backend
from scribe.studio.branch_session import Acceptance
from scribe.studio.branches import BranchTree, Node, ReplayRequest
from scribe.studio.compare import first_divergence
from scribe.studio.generation import GenerationController, RunSetup, Started
from scribe.studio.generation_runs import GenerationRun, collect
from scribe.studio.keep import sentence_end, word_end
from scribe.ui.keys import hint_key, hint_pair
from scribe.ui.messages import Replayed
from scribe.ui.screens.dialogs import ConfirmScreen
from scribe.ui.widgets.editor import Editor
from scribe.ui.widgets.stream_view import Segment, StreamView

if TYPE_CHECKING:
    from pathlib import Path

    from textual.widgets.text_area import Location

    from scribe.ui.app import ScribeApp
    from scribe.ui.screens.tree import BranchTreeScreen

REPLAY_RESULT_SECONDS = 20
"""How long a replay's result stays up: long enough to read where the texts part."""
EXCERPT = 60
"""How much of each text a replay's result quotes from where they part."""
SPEED_SECONDS = 0.25
"""How often the status bar's speed changes while a model streams: each change redraws the bar, and a figure that
changed with every batch (30 times a second) could not be read anyway."""


def replay_difference(replayed: str, recorded: str) -> str:
    """A replay's result when the text differs: where, and each text from there (one line each, at most `EXCERPT`
    characters), so the toast stays a few lines high."""
    at = first_divergence([replayed, recorded]) or 0

    def quoted(text: str) -> str:
        rest = text[at:]
        shown = rest[:EXCERPT] + ("…" if len(rest) > EXCERPT else "")
        return repr(shown) if shown else "(ends here)"

    return (f"the text differs from character {at} of {len(recorded)}\n"
            f"recorded: {quoted(recorded)}\nreplayed: {quoted(replayed)}")


def text_key(text: str) -> tuple[int, int]:
    """A cheap fingerprint of the document's text (its length and hash), to recognise it after an undo."""
    return len(text), hash(text)


@dataclass(frozen=True)
class AcceptedEdit:
    """An accept as the editor saw it: where it inserted, and the text before and after it (as `text_key`s)."""

    acceptance: Acceptance
    location: Location
    before: tuple[int, int]
    after: tuple[int, int]


def segment(node: Node) -> Segment:
    """How the continuation view shows a finished node."""
    return Segment(node.id, node.prefix, node.tokens, node.text)


class Branching:
    """The branch-tree half of the studio: starts the controller's runs and shows them, accepts and rejects, moves
    in the tree, replays, and keeps the sidecar written. The App's key actions and message handlers call it."""

    def __init__(self, app: ScribeApp) -> None:
        self.app = app
        self.accepted: list[AcceptedEdit] = []
        """Accepts that an undo can take back, the newest last."""
        self.taken_back: list[AcceptedEdit] = []
        """Accepts taken back by an undo, which a redo makes again."""
        self.replay_after_load: str | None = None
        """A branch to replay once the model being loaded for it is ready."""
        self.last_replay: tuple[str, str] | None = None
        """(replayed text, recorded text) of the last replay."""
        self._speed_due = 0.0
        """When the status bar's speed may next change (time.monotonic)."""
        self._write_lock = threading.Lock()
        self._version = self._written = 0
        """The tree's version (one more per change) and the newest version on disk."""

    @property
    def generation(self) -> GenerationController:
        """The headless run controller (the App's)."""
        return self.app.generation

    def new_document(self) -> None:
        """Another document was opened: nothing to undo, and its sidecar's versions start again."""
        self.accepted.clear()
        self.taken_back.clear()
        self._version = self._written = 0

    # --- starting continuations

    def run_setup(self) -> RunSetup:
        """What a run on the loaded model is generated with (the model must be loaded)."""
        app = self.app
        assert app.backend is not None
        return RunSetup.of(app.backend, weights_hash=app.weights_hash, alternatives=app.settings.alternatives,
                           prose=app.settings.prose, source=app.settings.model)

    def continue_text(self) -> None:
        """Continue the text at the cursor: a new branch of that text."""
        if not self.app._model_ready():
            return
        prompt = self.app.editor.text_before_cursor()
        self.stop_generation()
        self.app.editor.set_mark()
        self._begin(self.generation.continue_text(prompt, self.app.settings.sampling, self.run_setup()))

    def drafts(self) -> None:
        """`settings.drafts` continuations of the text at the cursor, each a sibling (the controller's `drafts`): the
        first streams into the view; each next one is shown when the one before it ends."""
        if not self.app._model_ready():
            return
        settings = self.app.settings
        prompt = self.app.editor.text_before_cursor()
        self.stop_generation()
        self.app.editor.set_mark()
        self._begin(self.generation.drafts(prompt, settings.sampling, settings.drafts, self.run_setup()))

    def regenerate(self) -> None:
        """Another continuation of the shown branch's prompt: a sibling (a fixed seed goes +1 per sibling)."""
        if self.app.rewriting.pending is not None:  # an action's answer: another answer (rewriting.py)
            self.app.rewriting.regenerate()
            return
        current = self.app.branches.current
        if current is None or current.parent is None or self.app.editor.mark_location is None:
            self.app.notify("nothing to regenerate: continue first", severity="warning")
            return
        if not self.app._model_ready():
            return
        self.stop_generation()
        started = self.generation.regenerate(self.app.settings.sampling, self.run_setup())
        if started is not None:
            self._begin(started)

    def extend(self) -> None:
        """Continue the shown continuation: a child branch."""
        if self.app.branches.current is None or self.app.editor.mark_location is None:
            self.app.notify("nothing to extend: continue first", severity="warning")
            return
        if not self.app._model_ready():
            return
        self.stop_generation()
        started = self.generation.extend(self.app.settings.sampling, self.run_setup())
        if started is not None:
            self._begin(started)

    def branch_from(self, message: StreamView.BranchFrom) -> None:
        """A new branch from an alternative picked in the inspector: the text up to that token plus the alternative."""
        if not self.app._model_ready():
            return
        self.stop_generation()
        started = self.generation.branch_from(message.node_id, message.index, message.alternative.text,
                                              self.app.settings.sampling, self.run_setup())
        if started is not None:
            self.app.editor.focus()
            self._begin(started)

    def inspect(self) -> None:
        """Move over the shown branch's tokens in the token inspector (escape comes back)."""
        if not self.app.stream_view.steps and not self.app.branches.path():
            self.app.notify("nothing to inspect: continue first", severity="warning")
            return
        self.app.stream_view.focus()

    def _begin(self, started: Started) -> None:
        """Show the run the controller just started, and hand its work to a worker (none for a draft its batch
        streams already)."""
        app = self.app
        app.rewriting.pending = None
        self.close_draft()
        path = app.branches.path()
        node = started.node
        app.stream_view.reset(self._title(node), above=[segment(n) for n in path[:-1]], node_id=node.id,
                              prefix=node.prefix)
        app._set_model_state("generating", tokens_per_s=None)
        assert app._drain_timer is not None
        app._drain_timer.resume()
        if started.work:
            assert app.backend is not None
            self._generate(app.backend, started.work)
        app.refresh_bindings()

    def _generate(self, backend: Backend, work: tuple[GenerationRun, ...]) -> None:
        """Stream `work` in a thread worker (one at a time: a new run's worker replaces the last one's)."""
        app = self.app
        app.run_worker(partial(self.generation.generate, backend, work, app._backend_lock,
                               partial(app.context.assembled_prompt, backend)),
                       thread=True, exclusive=True, exit_on_error=False, group="generate",
                       description="drafts" if len(work) > 1 else "generate")

    def _title(self, node: Node) -> str:
        tree = self.app.branches.tree
        siblings = tree.siblings(node.id)
        place = [n.id for n in siblings].index(node.id) + 1
        depth = len(self.app.branches.path())
        seed = node.generation.seed if node.generation else None
        title = f"branch {place}/{len(siblings)}" + (f" · depth {depth}" if depth > 1 else "")
        return title + (f" · seed {seed}" if seed is not None else "")

    # --- streaming and its end

    def drain(self) -> None:
        """Move what the worker streamed since the last frame into the view (the drain timer, about 30 times a
        second); at the end, say how it ended and show the next draft."""
        app = self.app
        if not app.is_running:  # not while the app shuts down
            return
        drained = self.generation.drain()
        if drained is None:
            return
        app.stream_view.add(drained.items)
        end = drained.end
        run = self.generation.run
        if end is None:
            now = time.monotonic()
            if now >= self._speed_due and run is not None:
                self._speed_due = now + SPEED_SECONDS
                app.status_bar.update_status(tokens_per_s=run.tokens_per_s)
            return
        assert app._drain_timer is not None
        app._drain_timer.pause()
        if drained.recorded is not None:
            self.save()
        app.stream_view.border_subtitle = (app.rewriting.subtitle(end) if app.rewriting.pending is not None else
                                           f"{end.tokens} tokens · {end.reason} · {self._keys_hint()}")
        if end.reason == "error":
            app.notify(end.error or "generation failed", title="Generation failed", severity="error", markup=False)
        app._set_model_state("ready" if app.backend is not None else app.model_state,
                            tokens_per_s=end.tokens_per_s or app.status_bar.status.tokens_per_s)
        app.refresh_bindings()
        if drained.next is not None:  # the next draft (streamed already, or still streaming, when it came from a batch)
            self._begin(drained.next)
            return
        app._schedule_count()

    def stop_generation(self) -> None:
        """Cancel the running stream, if any, and the drafts queued after it; its worker stops within one token, its
        node keeps what streamed."""
        app = self.app
        was_generating = self.generation.generating
        if self.generation.cancel() is not None:
            self.save()
        if not was_generating:
            return
        if app._drain_timer is not None:
            app._drain_timer.pause()
        if app.backend is not None:
            app._set_model_state("ready")
        app.stream_view.border_subtitle = "stopped"
        app.refresh_bindings()

    def stop(self) -> None:
        """Stop the continuation being generated; what streamed so far stays to accept or reject."""
        self.generation.stop()

    # --- accepting, rejecting

    def accept(self) -> None:
        """Write the offered branch path into the document where it started, as one undo step."""
        app = self.app
        if app.rewriting.pending is not None:
            app.rewriting.accept()
            return
        if app.branches.current is None or app.editor.mark_location is None:
            return
        if app.draft_open:
            self.keep_draft()
            return
        self._keep(None)

    def keep(self, unit: str) -> None:
        """Keep the offered text up to the end of its next `word` or `sentence`; the rest stays offered."""
        if self.app.branches.current is None or self.app.editor.mark_location is None:
            return
        self.stop_generation()
        offered = self.app.branches.offered_text()
        self._keep((word_end if unit == "word" else sentence_end)(offered))

    def keep_to(self, length: int) -> None:
        """Keep the offered text's first `length` characters (the inspector's keep, up to the token under its cursor)."""
        if self.app.branches.current is not None and self.app.editor.mark_location is not None:
            self.stop_generation()
            self._keep(length)
            self.app.editor.focus()

    def _keep(self, length: int | None) -> None:
        """Write the offered text (all of it, or its first `length` characters) where it started, as one undo step;
        a rest stays offered after it."""
        app, branches, editor = self.app, self.app.branches, self.app.editor
        location = editor.mark_location
        if branches.current is None or location is None:
            return
        self.stop_generation()
        before = text_key(editor.text)
        text, acceptance = branches.accept() if length is None else branches.accept_part(length)
        if text:
            editor.insert_at_mark(text)
        if acceptance is not None:
            self.accepted.append(AcceptedEdit(acceptance, location, before, text_key(editor.text)))
            self.taken_back.clear()
        rest = branches.current
        if rest is None:
            self.clear_continuation()
        else:
            editor.set_mark()
            self.show_branch(rest)
            app.stream_view.scroll_to_start()  # the next keep takes the rest from its start
        self.save()

    def undone(self, message: Editor.Undone) -> None:
        """An undo that takes an accept back un-marks its branch and offers it again; a redo accepts it again."""
        branches, editor = self.app.branches, self.app.editor
        key = text_key(editor.text)
        if not message.redo and self.accepted and self.accepted[-1].before == key:
            edit = self.accepted.pop()
            self.stop_generation()
            if branches.take_back(edit.acceptance):
                self.taken_back.append(edit)
                editor.set_mark(edit.location)
                current = branches.current
                assert current is not None
                self.show_branch(current)
                self.save()
        elif message.redo and self.taken_back and self.taken_back[-1].after == key:
            edit = self.taken_back.pop()
            self.stop_generation()
            if branches.accept_again(edit.acceptance):
                self.accepted.append(edit)
                rest = branches.current
                if rest is None:
                    self.clear_continuation()
                else:
                    editor.set_mark()
                    self.show_branch(rest)
                self.save()

    def reject(self) -> None:
        """Put the continuation away; it stays in the tree."""
        if self.app.rewriting.pending is not None:
            self.app.rewriting.reject()
            return
        self.stop_generation()
        self.app.branches.put_away()
        self.clear_continuation()
        self.save()

    def clear_continuation(self) -> None:
        """Nothing is offered any more: no run, no mark, an empty view."""
        app = self.app
        self.generation.clear()
        app.rewriting.pending = None
        app.editor.clear_mark()
        self.close_draft(forget=True)
        app.stream_view.reset()
        app.refresh_bindings()

    # --- editing before keeping

    def edit(self) -> None:
        """Edit the offered continuation in a draft (in the continuation's place); tab then keeps the draft."""
        app = self.app
        current = app.branches.current
        if current is None or app.editor.mark_location is None:
            app.notify("nothing to edit: continue first", severity="warning")
            return
        self.stop_generation()
        app.stream_view.display = False
        app.draft.open(current.id, app.branches.offered_text())
        app.refresh_bindings()

    def keep_draft(self) -> None:
        """Write the draft into the document as one undo step; an edited draft is kept in the tree as a branch of
        its own, beside the generated one."""
        app, branches, editor = self.app, self.app.branches, self.app.editor
        text = app.draft.text
        location = editor.mark_location
        if location is None or branches.current is None:
            return
        if text == branches.offered_text():
            self.close_draft(forget=True)
            self._keep(None)
            return
        before = text_key(editor.text)
        inserted, acceptance = branches.accept_edited(text)
        if inserted:
            editor.insert_at_mark(inserted)
        if acceptance is not None:
            self.accepted.append(AcceptedEdit(acceptance, location, before, text_key(editor.text)))
            self.taken_back.clear()
        self.clear_continuation()
        editor.focus()
        self.save()

    def close_draft(self, *, forget: bool = False) -> None:
        """Put the draft away (its edits stay for the same branch unless `forget`) and show the continuation."""
        draft = self.app.draft
        if draft.is_open or forget:
            draft.close(forget=forget)
            self.app.stream_view.display = True

    # --- moving in the tree

    def sibling(self, step: int) -> None:
        """Show the sibling branch `step` places away."""
        if self.app.rewriting.pending is not None:
            self.app.rewriting.sibling(step)
            return
        self._move(lambda: self.app.branches.sibling(step), "no more sibling branches that way")

    def parent(self) -> None:
        """Show the branch the shown one continues."""
        self._move(self.app.branches.parent, "this branch continues your text directly")

    def child(self) -> None:
        """Show the newest continuation of the shown branch."""
        self._move(self.app.branches.child, "this branch has no continuation yet (extend it)")

    def _move(self, move: Callable[[], Node | None], at_end: str) -> None:
        if self.app.branches.current is None:
            self.app.notify("no branch shown: continue first, or pick one in the tree", severity="warning")
            return
        self.stop_generation()
        node = move()
        if node is None:
            self.app.notify(at_end)
            return
        self.show_branch(node)
        self._version += 1  # only the shown node changed: written with the next change or on exit

    def _keys_hint(self) -> str:
        """What the writer can do with a finished continuation, with the keys in effect (remapped ones too)."""
        app = self.app
        return (f"{hint_key(app, 'accept')} accept · {hint_key(app, 'regenerate')} sibling · "
                f"{hint_key(app, 'extend')} extend · {hint_pair(app, 'prev_branch', 'next_branch')} branches · "
                f"{hint_key(app, 'inspect')} inspect")

    def show_branch(self, node: Node) -> None:
        """Show the finished branch `node` (the end of the offered path) in the continuation view."""
        app = self.app
        self.close_draft()
        path = app.branches.path()
        self.generation.clear()
        app.rewriting.pending = None
        app.stream_view.show([segment(n) for n in path[:-1]], segment(node), self._title(node),
                             f"{len(node.tokens)} tokens · {node.stop_reason} · {hint_key(app, 'accept')} accept")
        app.refresh_bindings()

    def tree(self) -> None:
        """Show the whole tree; enter there shows a branch here."""
        from scribe.ui.screens.tree import BranchTreeScreen

        if not len(self.app.branches.tree):
            self.app.notify("no branches yet: continue the text first", severity="warning")
            return
        screen = BranchTreeScreen(self.app.branches.tree)
        self.app.push_screen(screen, partial(self._tree_choice, screen))

    def _tree_choice(self, screen: BranchTreeScreen, node_id: str | None) -> None:
        branches = self.app.branches
        if screen.deleted:
            if self.app.editor.mark_location is not None and (branches.current is None or branches.anchor not in branches.tree):
                self.stop_generation()  # the offered branch was deleted
                branches.put_away()
                self.clear_continuation()
            self.save()
        if node_id is not None:
            self.show_node(node_id)

    def show_node(self, node_id: str) -> None:
        """Show a branch from the tree, marked where it belongs in the document (else at the cursor)."""
        app = self.app
        if app.branches.tree.node(node_id).action is not None:  # an action's answer replaces its passage
            app.rewriting.offer(node_id)
            return
        self.stop_generation()
        offset = app.branches.select(node_id, app.editor.text)
        location = app.editor.document.get_location_from_index(offset) if offset >= 0 else None
        app.editor.set_mark(location)
        current = app.branches.current
        assert current is not None
        self.show_branch(current)
        app.editor.focus()
        self.save()

    # --- replay

    def replay(self) -> None:
        """Regenerate the shown branch from its record and say whether the text is the same."""
        app = self.app
        node = app.branches.current
        if node is None or node.generation is None or not node.stop_reason:
            app.notify("no finished branch shown to replay", severity="warning")
            return
        if not app._model_ready():
            return
        assert app.backend is not None
        generation = node.generation
        if generation.source and generation.source != app.settings.model and generation.model != app.backend.info.name:
            question = (f"This branch was made with {generation.model}; {app.backend.info.name} is loaded.\n"
                        f"Load {generation.source} and replay the branch with it?")
            app.push_screen(ConfirmScreen(question, "Load and replay"),
                            lambda yes: self._load_and_replay(node.id, generation.source) if yes else self._replay(node))
            return
        self._replay(node)

    def _load_and_replay(self, node_id: str, source: str) -> None:
        """Load the model a branch was made with (the writer's model setting becomes it), then replay the branch."""
        self.replay_after_load = node_id
        self.app.choose_settings({"model": source})

    def replay_pending(self) -> None:
        """Replay the branch that waited for its model to load (the model just loaded)."""
        node_id, self.replay_after_load = self.replay_after_load, None
        if node_id is not None and node_id in self.app.branches.tree:
            self._replay(self.app.branches.tree.node(node_id))

    def _replay(self, node: Node) -> None:
        app = self.app
        assert app.backend is not None and node.generation is not None
        generation = node.generation
        if generation.model != app.backend.info.name or generation.weights_hash != app.weights_hash:
            app.notify(f"recorded with {generation.model} (weights {str(generation.weights_hash)[:12]}); the loaded "
                       "model differs, so the text may too", severity="warning", markup=False)
        app.notify("replaying the branch…")
        request = app.branches.tree.replay_request(node.id)
        app.run_worker(partial(self._replay_worker, app.backend, node.id, request), thread=True, exclusive=True,
                       exit_on_error=False, group="replay", description="replay")

    def _replay_worker(self, backend: Backend, node_id: str, request: ReplayRequest) -> None:
        app = self.app
        prompt = app.context.assembled_prompt(backend, request.prompt, request.params)  # with today's context tools
        _, end = collect(backend, prompt, request.params, request.alternatives, app._backend_lock, prose=request.prose)
        app.post_message(Replayed(node_id, end.text, end.error))

    def replayed(self, message: Replayed) -> None:
        """Say whether a replay gave the recorded text."""
        app = self.app
        if message.node_id not in app.branches.tree:
            return
        recorded = app.branches.tree.node(message.node_id).generated
        self.last_replay = (message.text, recorded)
        app.clear_notifications()  # "replaying…" and any warning before it: the result gets the room
        if message.error:
            app.notify(message.error, title="Replay failed ✗", severity="error", markup=False,
                       timeout=REPLAY_RESULT_SECONDS)
        elif message.text == recorded:
            app.notify(f"the same text, token for token ({len(recorded)} characters)", title="Replay ✓", markup=False,
                       timeout=REPLAY_RESULT_SECONDS)
        else:
            app.notify(replay_difference(message.text, recorded), title="Replay ✗", severity="warning", markup=False,
                       timeout=REPLAY_RESULT_SECONDS)

    # --- the sidecar

    def save(self) -> None:
        """Write the tree beside the document (in a worker) when it has a file name."""
        branches = self.app.branches
        tree = branches.snapshot()
        if tree is None or branches.sidecar is None:
            return
        self._version += 1
        self.app.run_worker(partial(self._save_worker, branches.sidecar, tree, self._version), thread=True,
                            exit_on_error=False, group="branches", description="save branches")

    def _save_worker(self, path: Path, tree: BranchTree, version: int) -> None:
        try:
            self._write(path, tree, version)
        except OSError as exc:
            self.app.call_from_thread(self.app.notify, f"branch tree not saved: {exc}", severity="error",
                                      markup=False)

    def _write(self, path: Path, tree: BranchTree, version: int) -> None:
        """Write `tree` unless a newer version is already on disk (workers may finish out of order)."""
        with self._write_lock:
            if version > self._written:
                tree.save(path)
                self._written = version

    def flush(self) -> None:
        """Write the tree now, on this thread, if a newer version than the one on disk exists (on exit); a node still
        generating keeps what streamed, as if stopped."""
        if self.generation.cancel() is not None:
            self._version += 1
        branches = self.app.branches
        tree = branches.snapshot()
        if tree is not None and branches.sidecar is not None and self._version > self._written:
            try:
                self._write(branches.sidecar, tree, self._version)
            except OSError:
                pass  # closing: nowhere left to say so
