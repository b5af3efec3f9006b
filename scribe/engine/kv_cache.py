"""The key/value cache bookkeeping scribe's decoders share: one preallocated tensor
[layers, 2 (keys, values), heads, capacity, head_dim] and how many of its positions are filled."""

from __future__ import annotations

import torch


class KVCacheSlots:
    """A decoder's cache and its filled length; the decoder sets `dtype` and `device` and runs the layers."""

    cache: torch.Tensor | None
    length: int
    dtype: torch.dtype
    device: torch.device

    def _allocate(self, shape: tuple[int, ...], *, keep: bool) -> None:
        """A new, larger cache of `shape`; with `keep` the filled positions are copied over."""
        old, self.cache = self.cache, torch.zeros(shape, dtype=self.dtype, device=self.device)
        if keep and old is not None and self.length:
            self.cache[:, :, :, : self.length] = old[:, :, :, : self.length]

    def rewind(self, length: int) -> None:
        """Forget every cached position from `length` on (the next step runs at position `length`)."""
        self.length = min(length, self.length)

    @property
    def capacity(self) -> int:
        """Positions the cache can hold."""
        return 0 if self.cache is None else self.cache.shape[3]
