"""Instruct actions on a passage: rewrite, expand, shorten, describe, or an instruction the writer types.

Each action is a pair of message templates (a system message and a user message) that becomes the messages of
`Backend.chat`. The templates are editable: `actions.toml` in scribe's config directory, written with the built-in
actions the first time they are read (never overwritten), one table per action:

    [shorten]
    label = "Shorten"
    system = "You are an editor. ..."
    user = "Shorten this passage ...\\n\\n{selection}"
    temperature = 0.7        # optional: sampling settings for this action
    max_new_tokens = 300     # optional

The user template may use {selection} (the passage), {before} (the text before it, for context) and {instruction}
(what the writer typed, for the custom action). Only models with a chat template can run actions
(`Capability.CHAT`); `unavailable_reason` says why a base model cannot. The answer is at most what the messages leave
of the model's context (`scribe.engine.streaming.chat_answer_tokens`); a passage that leaves no room for an answer ends
the stream with a one-line error saying to select a shorter one.
"""

from __future__ import annotations

import string
import threading
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from scribe.engine.base import Backend, Capability, EngineError, Message, StreamEnd, TokenStep
from scribe.sampling.params import InvalidSetting, SamplingParams

ACTIONS_FILE = "actions.toml"
_FIELDS = ("selection", "before", "instruction")
_SETTINGS = ("temperature", "max_new_tokens", "top_p", "min_p")

DEFAULT_ACTIONS = '''# scribe's instruct actions: edit freely. {selection} is the passage, {before} the text before it,
# {instruction} what you type for the custom action. Optional per action: temperature, max_new_tokens, top_p, min_p.

[rewrite]
label = "Rewrite"
system = "You are a careful literary editor. Answer with the revised passage only, no comments."
user = "Rewrite this passage so it reads better, keeping its meaning, voice and tense:\\n\\n{selection}"

[expand]
label = "Expand"
system = "You are a careful literary editor. Answer with the revised passage only, no comments."
user = "Expand this passage to about twice its length, in the same voice and tense:\\n\\n{selection}"

[shorten]
label = "Shorten"
system = "You are a careful literary editor. Answer with the revised passage only, no comments."
user = "Shorten this passage to about half its length, keeping what matters:\\n\\n{selection}"

[describe]
label = "Describe"
system = "You are a careful literary editor. Answer with the revised passage only, no comments."
user = "Rewrite this passage adding sensory detail (sight, sound, smell, touch), same voice and tense:\\n\\n{selection}"

[custom]
label = "Custom instruction"
system = "You are a careful literary editor. Answer with the revised passage only, no comments."
user = "{instruction}\\n\\n{selection}"
'''


class ActionError(EngineError):
    """An action that cannot run or a templates file that cannot be read; the message names the file or action."""


@dataclass(frozen=True)
class Action:
    """One instruct action: its templates and any sampling settings of its own."""

    name: str
    label: str
    system: str
    user: str
    settings: tuple[tuple[str, float | int], ...] = ()

    def messages(self, selection: str, *, before: str = "", instruction: str = "") -> list[Message]:
        """The chat messages for a passage."""
        values = {"selection": selection, "before": before, "instruction": instruction}
        messages: list[Message] = []
        if self.system.strip():
            messages.append({"role": "system", "content": self.system.format(**values)})
        messages.append({"role": "user", "content": self.user.format(**values)})
        return messages

    def params(self, base: SamplingParams) -> SamplingParams:
        """The writer's sampling settings with this action's own applied."""
        return base.replace(**dict(self.settings)) if self.settings else base


def actions_file(config_dir: Path | None = None) -> Path:
    """Where the action templates live (scribe's config directory)."""
    if config_dir is None:
        from scribe.config import Paths

        config_dir = Paths.discover().config
    return config_dir / ACTIONS_FILE


def load_actions(path: Path | None = None) -> dict[str, Action]:
    """The actions in `path` (default: `actions_file()`, created with the built-in actions when missing)."""
    path = path or actions_file()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(DEFAULT_ACTIONS, encoding="utf-8")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ActionError(f"{path}: cannot read the action templates ({exc}); fix or delete the file") from None
    return {name: _action(path, name, table) for name, table in data.items()}


def _action(path: Path, name: str, table: object) -> Action:
    where = f"{path} [{name}]"
    if not isinstance(table, dict) or not isinstance(table.get("user"), str):
        raise ActionError(f"{where}: an action needs a `user` template (text)")
    for key in ("user", "system"):
        text = table.get(key, "")
        if not isinstance(text, str):
            raise ActionError(f"{where}: `{key}` must be text")
        try:
            fields = {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}
        except ValueError as exc:
            raise ActionError(f"{where}: `{key}` is not a valid template ({exc}); write {{ and }} as {{{{ and }}}}") from None
        unknown = sorted(fields - set(_FIELDS))
        if unknown:
            raise ActionError(f"{where}: unknown placeholder {{{unknown[0]}}}; use {{selection}}, {{before}} or "
                              "{instruction}")
    settings = []
    for key in _SETTINGS:
        if key in table:
            try:
                SamplingParams().replace(**{key: table[key]})
            except (InvalidSetting, TypeError) as exc:
                raise ActionError(f"{where}: {exc}") from None
            settings.append((key, table[key]))
    return Action(name=name, label=str(table.get("label", name.title())), system=table.get("system", ""),
                  user=table["user"], settings=tuple(settings))


def unavailable_reason(backend: Backend) -> str | None:
    """Why `backend` cannot run actions (a base model has no chat template), or None when it can."""
    return None if backend.supports(Capability.CHAT) else backend.unavailable(Capability.CHAT)


def run_action(
    backend: Backend,
    action: Action,
    selection: str,
    params: SamplingParams,
    *,
    before: str = "",
    instruction: str = "",
    alternatives: int = 5,
    cancel: threading.Event | None = None,
) -> Iterator[TokenStep | StreamEnd]:
    """Stream the model's answer for `action` on `selection` (ActionError when the model has no chat template or the
    custom action has no instruction)."""
    reason = unavailable_reason(backend)
    if reason is not None:
        raise ActionError(reason)
    if "{instruction}" in action.user and not instruction.strip():
        raise ActionError(f"the {action.label} action needs an instruction: type what the model should do")
    messages = action.messages(selection, before=before, instruction=instruction)
    return backend.chat(messages, action.params(params), alternatives=alternatives, cancel=cancel)
