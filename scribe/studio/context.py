"""The context budget: how many of the prompt's tokens the model sees, and how many are cut from the start."""

from __future__ import annotations

from dataclasses import dataclass

from scribe.engine.base import prompt_budget


@dataclass(frozen=True)
class ContextUse:
    """Tokens of the text before the cursor against the room the model gives a prompt."""

    tokens: int
    context_length: int
    max_new_tokens: int

    @property
    def budget(self) -> int:
        """The most prompt tokens the model sees (the rest of the context is kept for the continuation)."""
        return prompt_budget(self.context_length, self.max_new_tokens)

    @property
    def cut(self) -> int:
        """Tokens cut from the start of the prompt (0 when it fits)."""
        return max(self.tokens - self.budget, 0)
