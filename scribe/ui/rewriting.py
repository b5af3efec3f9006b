"""Instruct actions on the selected passage (a component the App owns, `ScribeApp.rewriting`): rewrite, expand, shorten, describe, or an
instruction the writer types (`scribe.engine.actions`).

Each answer is a branch of the tree (`scribe.studio.branches`): a node under the text before the passage, with an
`ActionRecord` (the action, the instruction, the passage and where it was) and the generation record (model, every
setting, the seed). It streams into the continuation view with its probabilities and alternatives; tab replaces the
passage with it as one undo step (ctrl+z restores the passage and un-marks the answer), ctrl+r puts it away (it stays
in the tree), ctrl+g asks for another answer (a sibling, the next seed), alt+←/→ move between the answers, and the
tree view (f4) shows them, offering one again where its passage still is. A model without a chat template lists the
actions as unavailable, with the reason.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from textual.widgets.text_area import Selection

from scribe.engine.actions import Action, ActionError, load_actions, run_action, unavailable_reason
from scribe.engine.base import Backend, StreamEnd
from scribe.sampling.params import SamplingParams
from scribe.studio.branches import ActionRecord, Node
from scribe.studio.generation import SEED_LIMIT, draw_seed, with_seed
from scribe.ui.branching import text_key
from scribe.ui.keys import hint_key
from scribe.ui.widgets.editor import Editor
from scribe.ui.widgets.stream_view import Segment
from scribe.studio.generation_runs import GenerationRun, describe_error

if TYPE_CHECKING:
    import threading

    from scribe.ui.app import ScribeApp
    from scribe.ui.screens.rewrite import ActionChoice


@dataclass(frozen=True)
class PendingRewrite:
    """An answer on offer: its node in the tree and the passage it may replace (where it is in the document and its
    text then)."""

    node_id: str
    start: int
    end: int
    original: str
    label: str


@dataclass(frozen=True)
class AcceptedRewrite:
    """An accepted answer as the editor saw it: the text before and after (as `text_key`s), so an undo that restores
    the passage un-marks the answer and a redo marks it again."""

    node_id: str
    before: tuple[int, int]
    after: tuple[int, int]


def fit_answer(answer: str, original: str) -> str:
    """The model's answer trimmed of its surrounding blank space, wrapped in the passage's own (a selection that ended
    with a line break keeps it)."""
    core = answer.strip()
    lead = original[: len(original) - len(original.lstrip())]
    trail = original[len(original.rstrip()) :]
    return lead + core + trail


def passage_span(text: str, action: ActionRecord) -> tuple[int, int] | None:
    """Where the passage an answer rewrites is in `text`: where it was, else its one occurrence; None when it is gone
    or stands in several places."""
    if text[action.start : action.end] == action.passage:
        return action.start, action.end
    found = text.find(action.passage)
    if found < 0 or text.find(action.passage, found + 1) >= 0:
        return None
    return found, found + len(action.passage)


class Rewriting:
    """The action menu, the streamed answers (branches of the tree) and their acceptance in place of the passage."""

    def __init__(self, app: ScribeApp) -> None:
        self.app = app
        self.pending: PendingRewrite | None = None
        """The answer shown and the passage it would replace (None when no action's answer is shown)."""
        self._accepted: tuple[AcceptedRewrite, ...] = ()
        """Accepted answers an undo can un-mark, the newest last."""
        self._taken_back: tuple[AcceptedRewrite, ...] = ()
        """Accepted answers an undo un-marked, which a redo marks again."""

    def _selected_passage(self) -> tuple[int, int, str] | None:
        """(start offset, end offset, text) of the editor's selection, or None when nothing is selected."""
        editor = self.app.editor
        start, end = sorted(editor.selection)
        if start == end:
            return None
        document = editor.document
        return document.get_index_from_location(start), document.get_index_from_location(end), \
            editor.get_text_range(start, end)

    def _actions(self) -> dict[str, Action] | None:
        try:
            return load_actions(self.app.paths.config / "actions.toml")
        except ActionError as exc:
            self.app.notify(str(exc), title="Actions not read", severity="error", markup=False)
            return None

    def menu(self, ask: str | None = None) -> None:
        """Choose an action for the selected passage (`ask`: the action whose instruction to ask for at once)."""
        from scribe.ui.screens.rewrite import ActionMenuScreen

        app = self.app
        if not app._model_ready():
            return
        assert app.backend is not None
        reason = unavailable_reason(app.backend)
        if reason is not None:
            app.notify(f"actions unavailable: {reason}", severity="warning", markup=False)
        passage = self._selected_passage()
        if passage is None:
            app.notify("select a passage first (shift+arrows), then choose an action", severity="warning")
            return
        actions = self._actions()
        if actions is None:
            return
        words = len(passage[2].split())
        app.push_screen(ActionMenuScreen(actions, words, reason=reason, ask=ask), self._action_chosen)

    def run_named(self, name: str) -> None:
        """Run action `name` on the selection (the command palette); one needing an instruction asks for it."""
        from scribe.ui.screens.rewrite import needs_instruction

        actions = self._actions()
        if actions is None or name not in actions:
            return
        backend = self.app.backend
        if needs_instruction(actions[name]) or backend is None or unavailable_reason(backend):
            self.menu(ask=name)
        else:
            self._action_chosen((name, ""))

    def commands(self) -> list[tuple[str, str, partial[None]]]:
        """(title, help, callback) of each action for the command palette."""
        actions = self._actions() or {}
        return [(f"Action: {action.label}", f"Run \"{action.label}\" on the selected passage with an instruct model "
                 "(tab puts the answer in its place)", partial(self.run_named, name))
                for name, action in actions.items()]

    def _action_chosen(self, choice: ActionChoice | None) -> None:
        app = self.app
        if choice is None or not app._model_ready():
            return
        actions = self._actions()
        passage = self._selected_passage()
        if actions is None or passage is None:
            return
        name, instruction = choice
        action = actions[name]
        start, end, text = passage
        if self.pending is None and app.branches.current is not None:
            app.branching.reject()  # the offered continuation goes back to the tree
        parent = app.branches.tree.anchor_for(app.editor.text[:start])
        record = ActionRecord(name=name, label=action.label, instruction=instruction, start=start, end=end,
                              passage=text)
        self._answer(action, record, parent.id, with_seed(action.params(app.settings.sampling)))

    def regenerate(self) -> None:
        """Another answer of the shown answer's action on the same passage: a sibling (a fixed seed goes +1 per
        answer, else a new seed is drawn)."""
        app = self.app
        node = self._shown_answer()
        if node is None or node.action is None or node.parent is None or not app._model_ready():
            return
        actions = self._actions()
        if actions is None:
            return
        action = actions.get(node.action.name)
        if action is None:
            app.notify(f"the action {node.action.label!r} is no longer in actions.toml", severity="warning",
                       markup=False)
            return
        span = passage_span(app.editor.text, node.action)
        if span is None:
            app.notify("the passage this answer rewrites is no longer in the text", severity="warning")
            return
        record = dataclasses.replace(node.action, start=span[0], end=span[1])
        attempt = len(app.branches.tree.answers(node.id))
        params = action.params(app.settings.sampling)
        params = params.replace(seed=(params.seed + attempt) % SEED_LIMIT if params.seed is not None else draw_seed())
        self._answer(action, record, node.parent, params)

    def _answer(self, action: Action, record: ActionRecord, parent: str, params: SamplingParams) -> None:
        """Stream a new answer of `action` on `record`'s passage into a new node under `parent`."""
        app = self.app
        assert app.backend is not None
        app._stop_generation()
        generation = dataclasses.replace(app.branching.run_setup().record(params), prose=False)  # answers are not prose-joined
        node = app.branches.tree.add(parent, generation, action=record)
        run = GenerationRun(prompt=record.passage, params=params, alternatives=app.settings.alternatives)
        run.node_id = node.id
        app.run_state = run
        app.generating = True
        self.pending = PendingRewrite(node.id, record.start, record.end, record.passage, record.label)
        app.stream_view.reset(self._answer_title(node))
        app._set_model_state("generating", tokens_per_s=None)
        assert app._drain_timer is not None
        app._drain_timer.resume()
        app.run_worker(partial(stream_action, app.backend, action, run, app.editor.text[: record.start],
                               record.instruction, app._backend_lock),
                       thread=True, exclusive=True, exit_on_error=False, group="generate", description="action")
        app.branching.save()
        app.refresh_bindings()

    def _answer_title(self, node: Node) -> str:
        """"Rewrite · seed 5", or "Rewrite 2/3 · seed 6" once the passage has several answers of the action."""
        assert node.action is not None
        answers = self.app.branches.tree.answers(node.id)
        place = f" {[n.id for n in answers].index(node.id) + 1}/{len(answers)}" if len(answers) > 1 else ""
        seed = node.generation.seed if node.generation else None
        return node.action.label + place + (f" · seed {seed}" if seed is not None else "")

    def _shown_answer(self) -> Node | None:
        pending, tree = self.pending, self.app.branches.tree
        if pending is None or pending.node_id not in tree:
            return None
        return tree.node(pending.node_id)

    def sibling(self, step: int) -> None:
        """Show the answer `step` places away among the answers of the same action on the same passage."""
        node = self._shown_answer()
        if node is None:
            return
        answers = self.app.branches.tree.answers(node.id)
        index = [n.id for n in answers].index(node.id) + step
        if not 0 <= index < len(answers):
            self.app.notify("no more answers that way (ctrl+g asks for another)")
            return
        self.offer(answers[index].id)

    def offer(self, node_id: str) -> None:
        """Show a stored answer (from the tree view, or a sibling), its passage selected in the text, to accept or
        reject; nothing when its passage is no longer in the text."""
        app = self.app
        node = app.branches.tree.node(node_id)
        assert node.action is not None
        span = passage_span(app.editor.text, node.action)
        if span is None:
            app.notify(f"the passage this {node.action.label} answer rewrites is no longer in the text "
                       f"({node.action.passage[:40]!r}…)", severity="warning", markup=False)
            return
        app._stop_generation()
        if self.pending is None and app.branches.current is not None:
            app.branching.reject()
        app.run_state = None
        self.pending = PendingRewrite(node.id, span[0], span[1], node.action.passage, node.action.label)
        document = app.editor.document
        app.editor.selection = Selection(document.get_location_from_index(span[0]),
                                         document.get_location_from_index(span[1]))
        app.stream_view.show([], Segment("", node.prefix, node.tokens, node.text), self._answer_title(node),
                             f"{len(node.tokens)} tokens · {node.stop_reason or 'stopped'} · {self._keys_hint()}")
        app.editor.focus()
        app.refresh_bindings()

    def subtitle(self, end: StreamEnd) -> str:
        """The view's subtitle once an action's answer has ended."""
        return f"{end.tokens} tokens · {end.reason} · {self._keys_hint()}"

    def _keys_hint(self) -> str:
        """What the keys in effect do with an answer shown: "tab replaces the passage · ctrl+g another · ctrl+r
        reject"."""
        app = self.app
        return (f"{hint_key(app, 'accept')} replaces the passage · {hint_key(app, 'regenerate')} another · "
                f"{hint_key(app, 'reject')} reject")

    def accept(self) -> None:
        """Replace the passage with the answer shown, as one undo step (ctrl+z restores the passage); the answer is
        marked accepted in the tree."""
        app = self.app
        pending = self.pending
        if pending is None:
            return
        app._stop_generation()
        answer = app.stream_view.own_text
        editor = app.editor
        text = editor.text
        if text[pending.start : pending.end] != pending.original:
            app.notify("the passage changed since the action started: select it again and rerun the action",
                       severity="warning")
            return
        if not answer.strip():
            app.notify("the answer is empty: nothing to replace the passage with", severity="warning")
            return
        document = editor.document
        start = document.get_location_from_index(pending.start)
        end = document.get_location_from_index(pending.end)
        editor.history.checkpoint()
        result = editor.replace(fit_answer(answer, pending.original), start, end)
        editor.history.checkpoint()
        editor.move_cursor(result.end_location)
        tree = app.branches.tree
        if pending.node_id in tree:
            tree.node(pending.node_id).accepted = True
            self._accepted = (*self._accepted, AcceptedRewrite(pending.node_id, text_key(text), text_key(editor.text)))
            self._taken_back = ()
            app.branching.save()
        self.reject()
        editor.focus()

    def undone(self, message: Editor.Undone) -> None:
        """An undo that restores a passage un-marks the answer that replaced it; a redo marks it again
        (`Branching.undone` does the same for continuations)."""
        app = self.app
        key = text_key(app.editor.text)
        done, undone = self._accepted, self._taken_back
        if not message.redo and done and done[-1].before == key:
            edit, self._accepted = done[-1], done[:-1]
            self._taken_back = (*undone, edit)
            accepted = False
        elif message.redo and undone and undone[-1].after == key:
            edit, self._taken_back = undone[-1], undone[:-1]
            self._accepted = (*done, edit)
            accepted = True
        else:
            return
        if edit.node_id in app.branches.tree:
            app.branches.tree.node(edit.node_id).accepted = accepted
            app.branching.save()

    def reject(self) -> None:
        """Put the answer away (it stays in the tree); the passage stays as it is."""
        self.app._stop_generation()
        self.pending = None
        self.app._clear_continuation()


def stream_action(backend: Backend, action: Action, run: GenerationRun, before: str, instruction: str,
                  backend_lock: threading.Lock) -> None:
    """Stream the answer of `action` on `run.prompt` (the passage) into `run.buffer`; a failure becomes a StreamEnd
    with reason "error" and the text so far."""
    started = time.perf_counter()
    text: list[str] = []
    try:
        with backend_lock:
            for item in run_action(backend, action, run.prompt, run.params, before=before, instruction=instruction,
                                   alternatives=run.alternatives, cancel=run.cancel):
                if not isinstance(item, StreamEnd):
                    text.append(item.text)
                run.buffer.push(item)
    except Exception as exc:  # a model failing mid-stream must not take the editor down
        run.buffer.push(StreamEnd(reason="error", text="".join(text), tokens=len(text), prompt_tokens=0,
                                  elapsed_s=time.perf_counter() - started, first_token_s=0.0,
                                  error=describe_error(exc)))
