"""Generating into the branch tree (a mixin of `ScribeApp`): continue, regenerate, extend, move between branches,
show a branch from the tree view, branch from an inspected alternative, accept, reject and replay.

Every continuation becomes a node of `self.branches` (a `BranchSession`) with its generation record; the seed is
drawn here when the settings leave it random, so every node can be replayed exactly. The tree is written to the
document's sidecar in a worker after each change, and once more when the app closes.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from textual import work

from scribe.engine.base import Backend, Capability, StreamEnd
from scribe.sampling.params import SamplingParams
from scribe.sampling.processors import processor_order
from scribe.studio.branch_session import Acceptance, BranchSession
from scribe.studio.branches import BranchTree, Generation, Node, ReplayRequest, TokenRecord
from scribe.studio.compare import first_divergence
from scribe.studio.keep import sentence_end, word_end
from scribe.ui.messages import Replayed
from scribe.ui.screens.dialogs import ConfirmScreen
from scribe.ui.widgets.draft import Draft
from scribe.ui.widgets.editor import Editor
from scribe.ui.widgets.stream_view import Segment, StreamView
from scribe.ui.workers import GenerationRun, collect, stream_into, stream_many_into

REPLAY_RESULT_SECONDS = 20
"""How long a replay's result stays up: long enough to read where the texts part."""
EXCERPT = 60
"""How much of each text a replay's result quotes from where they part."""


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


if TYPE_CHECKING:
    from pathlib import Path

    from scribe.ui.app import ScribeApp
    from scribe.ui.screens.tree import BranchTreeScreen

    _Base = ScribeApp
else:
    _Base = object

SEED_LIMIT = 2**63
"""Seeds wrap around here (the largest SamplingParams accepts, plus one)."""
DRAWN_SEEDS = 2**31
"""Seeds drawn for the writer are below this: enough variety, and short enough to read and type."""
SPEED_SECONDS = 0.25
"""How often the status bar's speed changes while a model streams: each change redraws the bar, and a figure that
changed with every batch (30 times a second) could not be read anyway."""


def draw_seed() -> int:
    """A fresh random seed."""
    return secrets.randbelow(DRAWN_SEEDS)


def with_seed(params: SamplingParams) -> SamplingParams:
    """`params` with a seed: the writer's, or one drawn now (so the node records the seed actually used)."""
    return params if params.seed is not None else params.replace(seed=draw_seed())


def text_key(text: str) -> tuple[int, int]:
    """A cheap fingerprint of the document's text (its length and hash), to recognise it after an undo."""
    return len(text), hash(text)


@dataclass(frozen=True)
class AcceptedEdit:
    """An accept as the editor saw it: where it inserted, and the text before and after it (as `text_key`s)."""

    acceptance: Acceptance
    offset: int
    before: tuple[int, int]
    after: tuple[int, int]


def segment(node: Node) -> Segment:
    """How the continuation view shows a finished node."""
    return Segment(node.id, node.prefix, node.tokens, node.text)


class BranchActions(_Base):
    """The branch-tree half of the studio; `ScribeApp` provides the widgets, the backend and `_start`'s plumbing."""

    branches: BranchSession
    weights_hash: str | None
    _branch_write_lock: threading.Lock
    _branch_version: int
    _branch_written: int
    _speed_due = 0.0
    """When the status bar's speed may next change (time.monotonic)."""
    _accepted: list[AcceptedEdit]
    """Accepts that an undo can take back, the newest last."""
    _taken_back: list[AcceptedEdit]
    """Accepts taken back by an undo, which a redo makes again."""
    _queued: list[tuple[str, SamplingParams, int, GenerationRun | None]]
    """Drafts still to show after the running one: (parent node, settings with their seed, attempt, and the run
    already streaming them in the same batch, or None to generate them then)."""
    _replay_after_load: str | None = None
    """A branch to replay once the model being loaded for it is ready."""

    # --- starting continuations

    def action_continue(self) -> None:
        """Continue the text at the cursor: a new branch of that text."""
        if not self._model_ready():
            return
        prompt = self.editor.text_before_cursor()
        self._stop_generation()
        self.editor.set_mark()
        anchor = self.branches.begin(prompt)
        self._grow(anchor.id, with_seed(self.settings.sampling))

    def action_drafts(self) -> None:
        """`settings.drafts` continuations of the text at the cursor: siblings with their own seeds (a fixed seed goes
        +1 per draft), decoded as one batch where the backend can (Capability.BATCH), else one after another. The
        first streams into the view; each next one is shown when the one before it ends."""
        if not self._model_ready():
            return
        assert self.backend is not None
        prompt = self.editor.text_before_cursor()
        self._stop_generation()
        self.editor.set_mark()
        anchor = self.branches.begin(prompt)
        params = self.settings.sampling
        count = max(self.settings.drafts, 1)
        seeds = ([(params.seed + n) % SEED_LIMIT for n in range(count)] if params.seed is not None
                 else [draw_seed() for _ in range(count)])
        first, *rest = [params.replace(seed=seed) for seed in seeds]
        if not rest or not self.backend.supports(Capability.BATCH):
            self._grow(anchor.id, first)
            self._queued = [(anchor.id, later, number, None) for number, later in enumerate(rest, start=1)]
            return
        runs = [GenerationRun(prompt="", params=settings,  # the prompt is the first draft's node's (`_grow`)
                              alternatives=self.settings.alternatives, attempt=number, prose=self.settings.prose)
                for number, settings in enumerate([first, *rest])]
        for run in runs[1:]:
            run.cancel = runs[0].cancel  # stopping the shown draft stops the whole batch
        self._grow(anchor.id, first, run=runs[0], batch=runs)
        self._queued = [(anchor.id, run.params, run.attempt, run) for run in runs[1:]]

    def action_regenerate(self) -> None:
        """Another continuation of the shown branch's prompt: a sibling (a fixed seed goes +1 per sibling)."""
        if self.rewrite is not None:  # an action's answer: another answer (rewriting.py)
            self.regenerate_rewrite()
            return
        current = self.branches.current
        if current is None or current.parent is None or self.editor.mark is None:
            self.notify("nothing to regenerate: continue first", severity="warning")
            return
        if not self._model_ready():
            return
        self._stop_generation()
        attempt = len(self.branches.tree.siblings(current.id))
        params = self.settings.sampling
        params = params.replace(seed=(params.seed + attempt) % SEED_LIMIT) if params.seed is not None else with_seed(params)
        self._grow(current.parent, params, prefix=current.prefix, attempt=attempt)

    def action_extend(self) -> None:
        """Continue the shown continuation: a child branch."""
        current = self.branches.current
        if current is None or self.editor.mark is None:
            self.notify("nothing to extend: continue first", severity="warning")
            return
        if not self._model_ready():
            return
        self._stop_generation()
        self._grow(current.id, with_seed(self.settings.sampling))

    def on_stream_view_branch_from(self, message: StreamView.BranchFrom) -> None:
        """A new branch from an alternative picked in the inspector: the text up to that token plus the alternative."""
        if not self._model_ready():
            return
        self._stop_generation()
        node = self.branches.tree.node(message.node_id)
        if node.parent is None:
            return
        prefix = node.prefix + "".join(token.text for token in node.tokens[: message.index]) + message.alternative.text
        self.editor.focus()
        self._grow(node.parent, with_seed(self.settings.sampling), prefix=prefix)

    def action_inspect(self) -> None:
        """Move over the shown branch's tokens in the token inspector (escape comes back)."""
        if not self.stream_view.steps and not self.branches.path():
            self.notify("nothing to inspect: continue first", severity="warning")
            return
        self.stream_view.focus()

    def on_stream_view_left(self, message: StreamView.Left) -> None:
        self.editor.focus()

    def _generation(self, params: SamplingParams) -> Generation:
        assert self.backend is not None
        info = self.backend.info
        return Generation(model=info.name, weights_hash=self.weights_hash, params=params,
                          processor_order=processor_order(params),
                          alternatives=self.settings.alternatives, backend=info.backend, prose=self.settings.prose,
                          source=self.settings.model)

    def _grow(self, parent: str, params: SamplingParams, *, prefix: str = "", attempt: int = 0,
              run: GenerationRun | None = None, batch: list[GenerationRun] | None = None) -> None:
        """A new node under `parent` filled by a new run, or by `run`: the first of the drafts `batch` (which starts
        streaming them all), or a draft of a batch already streaming."""
        node = self.branches.grow(parent, self._generation(params), prefix=prefix)
        streaming = run is not None and batch is None
        if run is None:
            run = GenerationRun(prompt=self.branches.tree.prompt_of(node.id), params=params,
                                alternatives=self.settings.alternatives, attempt=attempt, prose=self.settings.prose)
        run.node_id = node.id
        for draft in batch or ():
            draft.prompt = self.branches.tree.prompt_of(node.id)
        self._start(run, batch=batch, streaming=streaming)

    def _start(self, run: GenerationRun, *, batch: list[GenerationRun] | None = None, streaming: bool = False) -> None:
        """Show `run` in the continuation view and generate it (all of `batch` in one worker), unless `streaming`
        (a draft its batch's worker is streaming already)."""
        self._stop_generation()
        self.rewrite = None
        self._close_draft()
        self.run_state = run
        self.generating = True
        path = self.branches.path()
        node = path[-1]
        self.stream_view.reset(self._branch_title(node), above=[segment(n) for n in path[:-1]], node_id=node.id,
                               prefix=node.prefix)
        self._set_model_state("generating", tokens_per_s=None)
        assert self.backend is not None and self._drain_timer is not None
        self._drain_timer.resume()
        if batch:
            self._drafts_worker(self.backend, batch)
        elif not streaming:
            self._generate_worker(self.backend, run)
        self.refresh_bindings()

    @work(thread=True, exclusive=True, exit_on_error=False, group="generate", description="generate")
    def _generate_worker(self, backend: Backend, run: GenerationRun) -> None:
        run.prompt = self.assembled_prompt(backend, run.prompt, run.params)  # memory, lorebook, note (context_actions)
        stream_into(backend, run, self._backend_lock)

    @work(thread=True, exclusive=True, exit_on_error=False, group="generate", description="drafts")
    def _drafts_worker(self, backend: Backend, runs: list[GenerationRun]) -> None:
        prompt = self.assembled_prompt(backend, runs[0].prompt, runs[0].params)
        for run in runs:
            run.prompt = prompt
        stream_many_into(backend, runs, self._backend_lock)

    def _branch_title(self, node: Node) -> str:
        siblings = self.branches.tree.siblings(node.id)
        place = [n.id for n in siblings].index(node.id) + 1
        depth = len(self.branches.path())
        seed = node.generation.seed if node.generation else None
        title = f"branch {place}/{len(siblings)}" + (f" · depth {depth}" if depth > 1 else "")
        return title + (f" · seed {seed}" if seed is not None else "")

    # --- streaming and its end

    def _drain(self) -> None:
        """Move what the worker streamed since the last frame into the view (about 30 times a second)."""
        run = self.run_state
        if run is None or not self.generating or not self.is_running:  # not while the app shuts down
            return
        items = run.buffer.drain()
        if not items:
            return
        self.stream_view.add(items)
        end = next((item for item in items if isinstance(item, StreamEnd)), None)
        if end is not None:
            self._finish(end)
            return
        now = time.monotonic()
        if now >= self._speed_due:
            self._speed_due = now + SPEED_SECONDS
            steps = self.stream_view.steps
            busy = sum(getattr(step, "elapsed_s", 0.0) for step in steps)
            self.status_bar.update_status(tokens_per_s=len(steps) / busy if busy > 0 else None)

    def _finish(self, end: StreamEnd) -> None:
        self.generating = False
        stopped = end.reason in ("cancelled", "error") or (self.run_state is not None and self.run_state.cancel.is_set())
        queued = [] if stopped else self._queued  # a draft of a batch may have streamed whole before the stop
        self._queued = []
        assert self._drain_timer is not None
        self._drain_timer.pause()
        self._record(end.text, end.reason)
        self.stream_view.border_subtitle = (self.rewrite_subtitle(end) if self.rewrite is not None else
                                            f"{end.tokens} tokens · {end.reason} · tab accept · ctrl+g sibling · "
                                            "ctrl+n extend · alt+←/→ branches · f3 inspect")
        if end.reason == "error":
            self.notify(end.error or "generation failed", title="Generation failed", severity="error", markup=False)
        self._set_model_state("ready" if self.backend is not None else self.model_state,
                              tokens_per_s=end.tokens_per_s or self.status_bar.status.tokens_per_s)
        self.refresh_bindings()
        if queued:  # the next draft (streamed already, or still streaming, when it came from a batch)
            (parent, params, attempt, prepared), rest = queued[0], queued[1:]
            self._grow(parent, params, attempt=attempt, run=prepared)
            self._queued = rest
            return
        self._schedule_count()

    def _record(self, text: str, reason: str) -> None:
        """Write what the running stream produced into its node, and save the tree."""
        run = self.run_state
        if run is None or run.node_id is None or run.node_id not in self.branches.tree:
            return
        tokens = tuple(TokenRecord.from_step(step) for step in self.stream_view.steps)
        self.branches.tree.finish(run.node_id, text, tokens, reason)
        self.save_branches()

    def _stop_generation(self) -> None:
        """Cancel the running stream, if any, and the drafts queued after it; its worker stops within one token, its
        node keeps what streamed."""
        self._queued = []
        if self.run_state is not None and self.generating:
            self.run_state.cancel.set()
            self.generating = False
            if self._drain_timer is not None:
                self._drain_timer.pause()
            self._record("".join(step.text for step in self.stream_view.steps), "cancelled")
            if self.backend is not None:
                self._set_model_state("ready")
            self.stream_view.border_subtitle = "stopped"
            self.refresh_bindings()

    def action_stop(self) -> None:
        """Stop the continuation being generated; what streamed so far stays to accept or reject."""
        if self.run_state is not None and self.generating:
            self.run_state.cancel.set()

    # --- accepting, rejecting

    def action_accept(self) -> None:
        """Write the offered branch path into the document where it started, as one undo step."""
        if self.rewrite is not None:
            self.accept_rewrite()
            return
        if self.branches.current is None or self.editor.mark is None:
            return
        if self.draft_open:
            self.keep_draft()
            return
        self._keep(None)

    def action_keep(self, unit: str) -> None:
        """Keep the offered text up to the end of its next `word` or `sentence`; the rest stays offered."""
        if self.branches.current is None or self.editor.mark is None:
            return
        self._stop_generation()
        offered = self.branches.offered_text()
        self._keep((word_end if unit == "word" else sentence_end)(offered))

    def on_stream_view_keep_to(self, message: StreamView.KeepTo) -> None:
        """The inspector keeps the offered text up to and including the token under its cursor."""
        if self.branches.current is not None and self.editor.mark is not None:
            self._stop_generation()
            self._keep(message.length)
            self.editor.focus()

    def _keep(self, length: int | None) -> None:
        """Write the offered text (all of it, or its first `length` characters) where it started, as one undo step;
        a rest stays offered after it."""
        if self.branches.current is None or self.editor.mark is None:
            return
        self._stop_generation()
        offset = self.editor.mark
        before = text_key(self.editor.text)
        text, acceptance = self.branches.accept() if length is None else self.branches.accept_part(length)
        if text:
            self.editor.insert_at_mark(text)
        if acceptance is not None:
            self._accepted.append(AcceptedEdit(acceptance, offset, before, text_key(self.editor.text)))
            self._taken_back.clear()
        rest = self.branches.current
        if rest is None:
            self._clear_continuation()
        else:
            self.editor.set_mark()
            self._show_branch(rest)
            self.stream_view.scroll_to_start()  # the next keep takes the rest from its start
        self.save_branches()

    def on_editor_undone(self, message: Editor.Undone) -> None:
        """An undo that takes an accept back un-marks its branch and offers it again; a redo accepts it again."""
        key = text_key(self.editor.text)
        if not message.redo and self._accepted and self._accepted[-1].before == key:
            edit = self._accepted.pop()
            self._stop_generation()
            if self.branches.take_back(edit.acceptance):
                self._taken_back.append(edit)
                self.editor.set_mark(self.editor.document.get_location_from_index(edit.offset))
                current = self.branches.current
                assert current is not None
                self._show_branch(current)
                self.save_branches()
        elif message.redo and self._taken_back and self._taken_back[-1].after == key:
            edit = self._taken_back.pop()
            self._stop_generation()
            if self.branches.accept_again(edit.acceptance):
                self._accepted.append(edit)
                rest = self.branches.current
                if rest is None:
                    self._clear_continuation()
                else:
                    self.editor.set_mark()
                    self._show_branch(rest)
                self.save_branches()

    def action_reject(self) -> None:
        """Put the continuation away; it stays in the tree."""
        if self.rewrite is not None:
            self.reject_rewrite()
            return
        self._stop_generation()
        self.branches.put_away()
        self._clear_continuation()
        self.save_branches()

    def _clear_continuation(self) -> None:
        self.run_state = None
        self.rewrite = None
        self.editor.clear_mark()
        self._close_draft(forget=True)
        self.stream_view.reset()
        self.refresh_bindings()

    # --- editing before keeping

    def action_edit(self) -> None:
        """Edit the offered continuation in a draft (in the continuation's place); tab then keeps the draft."""
        current = self.branches.current
        if current is None or self.editor.mark is None:
            self.notify("nothing to edit: continue first", severity="warning")
            return
        self._stop_generation()
        self.stream_view.display = False
        self.draft.open(current.id, self.branches.offered_text())
        self.refresh_bindings()

    def keep_draft(self) -> None:
        """Write the draft into the document as one undo step; an edited draft is kept in the tree as a branch of
        its own, beside the generated one."""
        text = self.draft.text
        if self.editor.mark is None or self.branches.current is None:
            return
        if text == self.branches.offered_text():
            self._close_draft(forget=True)
            self._keep(None)
            return
        offset = self.editor.mark
        before = text_key(self.editor.text)
        inserted, acceptance = self.branches.accept_edited(text)
        if inserted:
            self.editor.insert_at_mark(inserted)
        if acceptance is not None:
            self._accepted.append(AcceptedEdit(acceptance, offset, before, text_key(self.editor.text)))
            self._taken_back.clear()
        self._clear_continuation()
        self.editor.focus()
        self.save_branches()

    def on_draft_closed(self, message: Draft.Closed) -> None:
        self._close_draft()
        self.editor.focus()

    def _close_draft(self, *, forget: bool = False) -> None:
        """Put the draft away (its edits stay for the same branch unless `forget`) and show the continuation."""
        if self.draft.is_open or forget:
            self.draft.close(forget=forget)
            self.stream_view.display = True

    # --- moving in the tree

    def action_sibling(self, step: int) -> None:
        """Show the sibling branch `step` places away."""
        if self.rewrite is not None:
            self.rewrite_sibling(step)
            return
        self._move(lambda: self.branches.sibling(step), "no more sibling branches that way")

    def action_branch_parent(self) -> None:
        """Show the branch the shown one continues."""
        self._move(self.branches.parent, "this branch continues your text directly")

    def action_branch_child(self) -> None:
        """Show the newest continuation of the shown branch."""
        self._move(self.branches.child, "this branch has no continuation yet (extend it)")

    def _move(self, move: Callable[[], Node | None], at_end: str) -> None:
        if self.branches.current is None:
            self.notify("no branch shown: continue first, or pick one in the tree", severity="warning")
            return
        self._stop_generation()
        node = move()
        if node is None:
            self.notify(at_end)
            return
        self._show_branch(node)
        self._branch_version += 1  # only the shown node changed: written with the next change or on exit

    def _show_branch(self, node: Node) -> None:
        self._close_draft()
        path = self.branches.path()
        self.run_state = None
        self.rewrite = None
        self.stream_view.show([segment(n) for n in path[:-1]], segment(node), self._branch_title(node),
                              f"{len(node.tokens)} tokens · {node.stop_reason} · tab accept")
        self.refresh_bindings()

    def action_tree(self) -> None:
        """Show the whole tree; enter there shows a branch here."""
        from scribe.ui.screens.tree import BranchTreeScreen

        if not len(self.branches.tree):
            self.notify("no branches yet: continue the text first", severity="warning")
            return
        screen = BranchTreeScreen(self.branches.tree)
        self.push_screen(screen, partial(self._tree_choice, screen))

    def _tree_choice(self, screen: BranchTreeScreen, node_id: str | None) -> None:
        if screen.deleted:
            tree = self.branches.tree
            if self.editor.mark is not None and (self.branches.current is None or self.branches.anchor not in tree):
                self._stop_generation()  # the offered branch was deleted
                self.branches.put_away()
                self._clear_continuation()
            self.save_branches()
        if node_id is not None:
            self.show_node(node_id)

    def show_node(self, node_id: str) -> None:
        """Show a branch from the tree, marked where it belongs in the document (else at the cursor)."""
        if self.branches.tree.node(node_id).action is not None:  # an action's answer replaces its passage
            self.offer_rewrite(node_id)
            return
        self._stop_generation()
        offset = self.branches.select(node_id, self.editor.text)
        location = self.editor.document.get_location_from_index(offset) if offset >= 0 else None
        self.editor.set_mark(location)
        current = self.branches.current
        assert current is not None
        self._show_branch(current)
        self.editor.focus()
        self.save_branches()

    # --- replay

    def action_replay(self) -> None:
        """Regenerate the shown branch from its record and say whether the text is the same."""
        node = self.branches.current
        if node is None or node.generation is None or not node.stop_reason:
            self.notify("no finished branch shown to replay", severity="warning")
            return
        if not self._model_ready():
            return
        assert self.backend is not None
        generation = node.generation
        if generation.source and generation.source != self.settings.model and generation.model != self.backend.info.name:
            question = (f"This branch was made with {generation.model}; {self.backend.info.name} is loaded.\n"
                        f"Load {generation.source} and replay the branch with it?")
            self.push_screen(ConfirmScreen(question, "Load and replay"),
                             lambda yes: self._load_and_replay(node.id, generation.source) if yes else self._replay(node))
            return
        self._replay(node)

    def _load_and_replay(self, node_id: str, source: str) -> None:
        """Load the model a branch was made with (the writer's model setting becomes it), then replay the branch."""
        self._replay_after_load = node_id
        self.choose_settings({"model": source})

    def replay_pending(self) -> None:
        """Replay the branch that waited for its model to load (the model just loaded)."""
        node_id, self._replay_after_load = self._replay_after_load, None
        if node_id is not None and node_id in self.branches.tree:
            self._replay(self.branches.tree.node(node_id))

    def _replay(self, node: Node) -> None:
        assert self.backend is not None and node.generation is not None
        generation = node.generation
        if generation.model != self.backend.info.name or generation.weights_hash != self.weights_hash:
            self.notify(f"recorded with {generation.model} (weights {str(generation.weights_hash)[:12]}); the loaded "
                        "model differs, so the text may too", severity="warning", markup=False)
        self.notify("replaying the branch…")
        self._replay_worker(self.backend, node.id, self.branches.tree.replay_request(node.id))

    @work(thread=True, exclusive=True, exit_on_error=False, group="replay", description="replay")
    def _replay_worker(self, backend: Backend, node_id: str, request: ReplayRequest) -> None:
        prompt = self.assembled_prompt(backend, request.prompt, request.params)  # with today's context tools
        _, end = collect(backend, prompt, request.params, request.alternatives, self._backend_lock,
                         prose=request.prose)
        self.post_message(Replayed(node_id, end.text, end.error))

    def on_replayed(self, message: Replayed) -> None:
        if message.node_id not in self.branches.tree:
            return
        recorded = self.branches.tree.node(message.node_id).generated
        self.last_replay = (message.text, recorded)
        self.clear_notifications()  # "replaying…" and any warning before it: the result gets the room
        if message.error:
            self.notify(message.error, title="Replay failed ✗", severity="error", markup=False,
                        timeout=REPLAY_RESULT_SECONDS)
        elif message.text == recorded:
            self.notify(f"the same text, token for token ({len(recorded)} characters)", title="Replay ✓", markup=False,
                        timeout=REPLAY_RESULT_SECONDS)
        else:
            self.notify(replay_difference(message.text, recorded), title="Replay ✗", severity="warning", markup=False,
                        timeout=REPLAY_RESULT_SECONDS)

    # --- the sidecar

    def save_branches(self) -> None:
        """Write the tree beside the document (in a worker) when it has a file name."""
        tree = self.branches.snapshot()
        if tree is None or self.branches.sidecar is None:
            return
        self._branch_version += 1
        self._branch_save_worker(self.branches.sidecar, tree, self._branch_version)

    @work(thread=True, exit_on_error=False, group="branches", description="save branches")
    def _branch_save_worker(self, path: Path, tree: BranchTree, version: int) -> None:
        try:
            self._write_branches(path, tree, version)
        except OSError as exc:
            self.call_from_thread(self.notify, f"branch tree not saved: {exc}", severity="error", markup=False)

    def _write_branches(self, path: Path, tree: BranchTree, version: int) -> None:
        """Write `tree` unless a newer version is already on disk (workers may finish out of order)."""
        with self._branch_write_lock:
            if version > self._branch_written:
                tree.save(path)
                self._branch_written = version

    def flush_branches(self) -> None:
        """Write the tree now, on this thread, if a newer version than the one on disk exists (on exit); a node still
        generating keeps what streamed, as if stopped."""
        run = self.run_state
        if self.generating and run is not None and run.node_id is not None and run.node_id in self.branches.tree:
            tokens = tuple(TokenRecord.from_step(step) for step in self.stream_view.steps)
            self.branches.tree.finish(run.node_id, "".join(t.text for t in tokens), tokens, "cancelled")
            self._branch_version += 1
        tree = self.branches.snapshot()
        if tree is not None and self.branches.sidecar is not None and self._branch_version > self._branch_written:
            try:
                self._write_branches(self.branches.sidecar, tree, self._branch_version)
            except OSError:
                pass  # closing: nowhere left to say so
