"""The prompt cache: a decoder's key/value cache kept between streams, so a new prompt runs only the tokens after the
longest prefix it shares with what the cache holds (like KoboldCpp's and llama.cpp's prompt cache).

Continue, regenerate, extend and several drafts at once all send a prompt that begins with the text the model read for
the previous request (and, after a regenerate, what it generated then); typing at the end of the document adds
tokens after it. `PromptCache` wraps a decoder that can keep its cache (`reserve(keep=True)`) and run tokens after
it (`extend`), remembers the token ids whose keys and values sit in each cache position, and on `prefill` cuts the
cache back to the common prefix and runs only the rest. At least the prompt's last token always runs, since its
logits choose the first new token. It is the `LogitSteps` of `scribe.engine.streaming.sampled_tokens`.

One instance per backend, used by one stream at a time (the UI holds the backend's lock).
"""

from __future__ import annotations

from typing import Protocol

import torch


class KeepingDecoder(Protocol):
    """A decoder whose cache can outlive a stream (`GPT2Decoder`, `LlamaDecoder`)."""

    length: int

    def reserve(self, capacity: int, *, keep: bool = False) -> None: ...

    def extend(self, ids: torch.Tensor) -> torch.Tensor: ...

    def step(self, token: torch.Tensor) -> torch.Tensor: ...

    def rewind(self, length: int) -> None: ...


def common_prefix(a: list[int], b: list[int]) -> int:
    """How many leading ids `a` and `b` share."""
    count = 0
    for x, y in zip(a, b):
        if x != y:
            break
        count += 1
    return count


class PromptCache:
    """`LogitSteps` over `decoder` that reuse the cached positions of the longest common token prefix."""

    def __init__(self, decoder: KeepingDecoder) -> None:
        self.decoder = decoder
        self._ids: list[int] = []
        """The ids in the cache's positions, up to the last `prefill`."""
        self._stepped: list[torch.Tensor] = []
        """The tokens `step` ran since (device tensors, read back only when the next prompt is compared)."""
        self.reused = 0
        """Positions the last `prefill` took from the cache instead of running them."""

    def cached_ids(self) -> list[int]:
        """The token ids whose keys and values the cache holds, in order."""
        if self._stepped:
            self._ids += torch.cat([t.reshape(-1) for t in self._stepped]).tolist()
            self._stepped = []
        return self._ids[: self.decoder.length]

    def clear(self) -> None:
        """Forget what the cache holds: the next prompt runs from its first token."""
        self._ids, self._stepped = [], []
        self.decoder.rewind(0)

    def reserve(self, capacity: int) -> None:
        """Make room for `capacity` positions, keeping what the cache holds."""
        self._ids = self.cached_ids()
        self.decoder.reserve(capacity, keep=True)

    def prefill(self, ids: torch.Tensor) -> torch.Tensor:
        """The next-token logits after the prompt `ids` (1-D), running only what follows the cached common prefix."""
        prompt = ids.tolist()
        reused = min(common_prefix(self.cached_ids(), prompt), len(prompt) - 1)
        self._ids = []  # until the run below succeeds, the cache's contents past `reused` are unknown
        self.decoder.rewind(reused)
        logits = self.decoder.extend(ids[reused:])
        self._ids, self.reused = prompt, reused
        return logits

    def step(self, token: torch.Tensor) -> torch.Tensor:
        """The next-token logits after one more token."""
        logits = self.decoder.step(token)
        self._stepped.append(token.clone())
        return logits

    def rewind(self, length: int) -> None:
        """Forget every cached position from `length` on."""
        self._ids = self.cached_ids()[:length]
        self.decoder.rewind(length)
