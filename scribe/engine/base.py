"""The backend interface: everything a model family may do, declared in one place, with the capabilities it has.

A backend loads one model (`load`), says which files, folders or names are its models (`detect`, `locate`), streams a
continuation of a text one `TokenStep` at a time ending with one `StreamEnd` (`stream`, usually through the shared
loop in `scribe.engine.streaming`), counts tokens, and, where its `capabilities` say so, scores a text, analyses it
(attention and the next-token distribution at every position) and chats through a chat template. Callers ask
`supports(capability)`; they never test a backend's kind by name. Backends register through the `scribe.backends`
entry-point group (see `scribe.engine.registry`).

Nothing here imports torch, TensorFlow or httpx; backends import them lazily when a model is loaded. The records and
errors live in the leaf module `scribe.types` and are re-exported here.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar

from scribe.sampling.params import SamplingParams
from scribe.types import (
    Alternative,
    EngineError,
    ModelInfo,
    ModelLoadError,
    ModelNotFound,
    StopReason,
    StreamEnd,
    TokenScore,
    TokenStep,
    prompt_budget,
)

__all__ = [
    "Alternative", "Backend", "Capability", "EngineError", "Message", "ModelInfo", "ModelLoadError", "ModelNotFound",
    "SEARCH_SETTINGS", "StopReason", "StreamEnd", "TokenScore", "TokenStep", "prompt_budget",
]

SEARCH_SETTINGS = frozenset({"num_beams", "length_penalty", "early_stopping", "penalty_alpha"})
"""The settings of beam and contrastive search."""

Message = dict[str, str]
"""One chat message: {"role": "system" | "user" | "assistant", "content": text}."""


class Capability(StrEnum):
    """What a backend can do beyond streaming a continuation."""

    LOGITS = "logits"
    """Its stream samples next-token logits with scribe's sampler: every setting applies and the X-ray shows it."""
    SEARCH = "search"
    """Beam and contrastive search."""
    SCORE = "score"
    """Per-token log-probabilities of a given text (the perplexity lens, compare)."""
    ANALYSE = "analyse"
    """The next-token distribution at every position and, where the model has attention, its weights."""
    CHAT = "chat"
    """`chat(messages)` through the model's chat template (instruct models)."""
    BATCH = "batch"
    """`stream_many` decodes several continuations of one prompt as one batch (others run them one after another)."""


class Backend(ABC):
    """A loaded model that can stream continuations. One instance serves one model; it is not thread-safe."""

    info: ModelInfo
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    """What this kind of backend can do; `supports` may narrow it per model (a base model has no chat template)."""
    unsupported: frozenset[str] = frozenset()
    """Sampling settings this model cannot apply: the settings panel shows them as unavailable, and `ignored` names
    the ones a request sets, so nothing is dropped silently."""
    slower_because: str | None = None
    """Why this model decodes slower here than it could (a one-line note the writer is shown after the load), or
    None."""

    # --- finding and loading models

    @classmethod
    def detect(cls, path: Path) -> bool:
        """True when the existing file or folder `path` is a model this backend loads (cheap: reads no weights)."""
        return False

    @classmethod
    def locate(cls, name: str) -> Path | None:
        """For a name that is not a path (such as "remote:NAME"): the file that describes it when it is this backend's,
        else None. Raises ModelNotFound when the name is this backend's but nothing answers to it."""
        return None

    @classmethod
    def load(
        cls,
        path: Path,
        *,
        name: str | None = None,
        device: str = "auto",
        dtype: str = "auto",
        trust_remote_code: bool = False,
    ) -> "Backend":
        """Load the model at `path` (ModelLoadError with a one-line reason naming the path on failure)."""
        raise NotImplementedError(f"{cls.__name__} does not implement load")

    @classmethod
    def loading_notice(cls, path: Path) -> str | None:
        """A line to show while the model at `path` loads when loading takes long enough to need one (starting a
        library the first time, say); None when there is nothing to say."""
        return None

    # --- what it can do

    def supports(self, capability: Capability | str) -> bool:
        """True when this model can do `capability`."""
        return Capability(capability) in self.capabilities

    def unavailable(self, capability: Capability | str) -> str:
        """Why this model cannot do `capability` (a sentence for a status bar or dialog)."""
        what = {
            Capability.LOGITS: "next-token distributions",
            Capability.SEARCH: "beam or contrastive search",
            Capability.SCORE: "scoring of text",
            Capability.ANALYSE: "attention or next-token distributions",
            Capability.CHAT: "chat: it has no chat template (a base model)",
            Capability.BATCH: "batched continuations",
        }[Capability(capability)]
        return f"{self.info.name}: {self.info.backend} models do not offer {what}"

    def ignored(self, params: SamplingParams) -> tuple[str, ...]:
        """Settings in `params` that differ from "off" (their defaults) but that this model cannot apply."""
        defaults = SamplingParams()
        return tuple(sorted(n for n in self.unsupported if getattr(params, n) != getattr(defaults, n)))

    # --- streaming

    @abstractmethod
    def stream(
        self,
        prompt: str,
        params: SamplingParams,
        *,
        alternatives: int = 5,
        cancel: threading.Event | None = None,
    ) -> Iterator[TokenStep | StreamEnd]:
        """Yield one TokenStep per generated token, then exactly one StreamEnd (errors too end in a StreamEnd)."""

    def stream_many(
        self,
        prompt: str,
        params: Sequence[SamplingParams],
        *,
        alternatives: int = 5,
        cancel: threading.Event | None = None,
    ) -> Iterator[tuple[int, TokenStep | StreamEnd]]:
        """Continuations of `prompt`, one per settings in `params` (each with its own seed), as (row, item) pairs:
        each row's items in order, ending with its StreamEnd. Capability.BATCH decodes them as one batch; this
        default streams them one after another."""
        for row, settings in enumerate(params):
            for item in self.stream(prompt, settings, alternatives=alternatives, cancel=cancel):
                yield row, item

    def chat(
        self,
        messages: Sequence[Message],
        params: SamplingParams,
        *,
        alternatives: int = 5,
        cancel: threading.Event | None = None,
    ) -> Iterator[TokenStep | StreamEnd]:
        """Stream the assistant's answer to `messages` through the model's chat template (Capability.CHAT)."""
        raise NotImplementedError(self.unavailable(Capability.CHAT))

    @abstractmethod
    def count_tokens(self, text: str) -> int:
        """Number of tokens the model sees for this text."""

    def count_tokens_batch(self, texts: list[str]) -> list[int]:
        """`count_tokens` of each text (backends whose tokenizer encodes many texts at once override it)."""
        return [self.count_tokens(text) for text in texts]

    # --- scoring and analysis

    def score(self, text: str) -> list[TokenScore]:
        """Each token of `text` with its log-probability under the model (Capability.SCORE)."""
        raise NotImplementedError(self.unavailable(Capability.SCORE))

    def encode_ids(self, text: str) -> list[int]:
        """The token ids the model sees for `text` (Capability.ANALYSE)."""
        raise NotImplementedError(self.unavailable(Capability.ANALYSE))

    def token_text(self, token_id: int) -> str:
        """The text of one token (Capability.ANALYSE)."""
        raise NotImplementedError(self.unavailable(Capability.ANALYSE))

    def attention_shape(self) -> tuple[int, int]:
        """(attention layers, heads per layer), 0 when unknown or none: sizes the analysis window."""
        return 0, 0

    def analysis_pass(self, ids: Sequence[int], *, attentions: bool) -> tuple[Any, Any, list[str], str | None]:
        """One forward pass over `ids` (Capability.ANALYSE): (logits [tokens, vocab], attention weights [layers,
        heads, tokens, tokens] or None, a name per attention layer, why there is no attention or None)."""
        raise NotImplementedError(self.unavailable(Capability.ANALYSE))

    def close(self) -> None:
        """Release memory held by the model."""
