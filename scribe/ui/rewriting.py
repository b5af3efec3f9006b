"""Instruct actions on the selected passage (a mixin of `ScribeApp`): rewrite, expand, shorten, describe, or an
instruction the writer types (`scribe.engine.actions`).

The answer streams into the continuation view with its probabilities and alternatives, like a continuation; tab
replaces the passage with it as one undo step (ctrl+z restores the passage), ctrl+r puts it away. A model without a
chat template lists the actions as unavailable, with the reason.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from textual import work

from scribe.engine.actions import Action, ActionError, load_actions, run_action, unavailable_reason
from scribe.engine.base import Backend, StreamEnd
from scribe.ui.branching import with_seed
from scribe.ui.workers import GenerationRun, describe_error

if TYPE_CHECKING:
    import threading

    from scribe.ui.app import ScribeApp
    from scribe.ui.screens.rewrite import ActionChoice

    _Base = ScribeApp
else:
    _Base = object


@dataclass(frozen=True)
class PendingRewrite:
    """A passage an action's answer may replace: where it is in the document and its text then."""

    start: int
    end: int
    original: str
    label: str


def fit_answer(answer: str, original: str) -> str:
    """The model's answer trimmed of its surrounding blank space, wrapped in the passage's own (a selection that ended
    with a line break keeps it)."""
    core = answer.strip()
    lead = original[: len(original) - len(original.lstrip())]
    trail = original[len(original.rstrip()) :]
    return lead + core + trail


class RewriteActions(_Base):
    """The action menu, the streamed answer and its acceptance in place of the selection."""

    rewrite: PendingRewrite | None = None
    """The passage the shown answer would replace (None when no action's answer is shown)."""

    def _selected_passage(self) -> tuple[int, int, str] | None:
        """(start offset, end offset, text) of the editor's selection, or None when nothing is selected."""
        start, end = sorted(self.editor.selection)
        if start == end:
            return None
        document = self.editor.document
        return document.get_index_from_location(start), document.get_index_from_location(end), \
            self.editor.get_text_range(start, end)

    def _actions(self) -> dict[str, Action] | None:
        try:
            return load_actions(self.paths.config / "actions.toml")
        except ActionError as exc:
            self.notify(str(exc), title="Actions not read", severity="error", markup=False)
            return None

    def action_rewrite_menu(self, ask: str | None = None) -> None:
        """Choose an action for the selected passage (`ask`: the action whose instruction to ask for at once)."""
        from scribe.ui.screens.rewrite import ActionMenuScreen

        if not self._model_ready():
            return
        assert self.backend is not None
        reason = unavailable_reason(self.backend)
        if reason is not None:
            self.notify(f"actions unavailable: {reason}", severity="warning", markup=False)
        passage = self._selected_passage()
        if passage is None:
            self.notify("select a passage first (shift+arrows), then choose an action", severity="warning")
            return
        actions = self._actions()
        if actions is None:
            return
        words = len(passage[2].split())
        self.push_screen(ActionMenuScreen(actions, words, reason=reason, ask=ask), self._action_chosen)

    def run_named_action(self, name: str) -> None:
        """Run action `name` on the selection (the command palette); one needing an instruction asks for it."""
        from scribe.ui.screens.rewrite import needs_instruction

        actions = self._actions()
        if actions is None or name not in actions:
            return
        if needs_instruction(actions[name]) or self.backend is None or unavailable_reason(self.backend):
            self.action_rewrite_menu(ask=name)
        else:
            self._action_chosen((name, ""))

    def instruct_commands(self) -> list[tuple[str, str, partial[None]]]:
        """(title, help, callback) of each action for the command palette."""
        actions = self._actions() or {}
        return [(f"Action: {action.label}", f"Run \"{action.label}\" on the selected passage with an instruct model "
                 "(tab puts the answer in its place)", partial(self.run_named_action, name))
                for name, action in actions.items()]

    def _action_chosen(self, choice: ActionChoice | None) -> None:
        if choice is None or not self._model_ready():
            return
        assert self.backend is not None
        actions = self._actions()
        passage = self._selected_passage()
        if actions is None or passage is None:
            return
        name, instruction = choice
        action = actions[name]
        start, end, text = passage
        if self.branches.current is not None:
            self.action_reject()  # the offered continuation goes back to the tree
        self._stop_generation()
        params = with_seed(action.params(self.settings.sampling))
        run = GenerationRun(prompt=text, params=params, alternatives=self.settings.alternatives)
        self.run_state = run
        self.generating = True
        self.rewrite = PendingRewrite(start, end, text, action.label)
        self.stream_view.reset(f"{action.label} · seed {params.seed}")
        self._set_model_state("generating", tokens_per_s=None)
        assert self._drain_timer is not None
        self._drain_timer.resume()
        before = self.editor.text[:start]
        self._action_worker(self.backend, action, run, before, instruction)
        self.refresh_bindings()

    @work(thread=True, exclusive=True, exit_on_error=False, group="generate", description="action")
    def _action_worker(self, backend: Backend, action: Action, run: GenerationRun, before: str,
                       instruction: str) -> None:
        stream_action(backend, action, run, before, instruction, self._backend_lock)

    def rewrite_subtitle(self, end: StreamEnd) -> str:
        """The view's subtitle once an action's answer has ended."""
        return f"{end.tokens} tokens · {end.reason} · tab replaces the passage · ctrl+r reject"

    def accept_rewrite(self) -> None:
        """Replace the passage with the answer shown, as one undo step (ctrl+z restores the passage)."""
        pending = self.rewrite
        if pending is None:
            return
        self._stop_generation()
        answer = self.stream_view.own_text
        text = self.editor.text
        if text[pending.start : pending.end] != pending.original:
            self.notify("the passage changed since the action started: select it again and rerun the action",
                        severity="warning")
            return
        if not answer.strip():
            self.notify("the answer is empty: nothing to replace the passage with", severity="warning")
            return
        document = self.editor.document
        start = document.get_location_from_index(pending.start)
        end = document.get_location_from_index(pending.end)
        self.editor.history.checkpoint()
        result = self.editor.replace(fit_answer(answer, pending.original), start, end)
        self.editor.history.checkpoint()
        self.editor.move_cursor(result.end_location)
        self.reject_rewrite()
        self.editor.focus()

    def reject_rewrite(self) -> None:
        """Put the answer away; the passage stays as it is."""
        self._stop_generation()
        self.rewrite = None
        self._clear_continuation()


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
