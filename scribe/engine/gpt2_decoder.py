"""A hand-written decode step for GPT-2 models (`transformers.GPT2LMHeadModel`) with a preallocated key/value cache.

transformers' forward pass spends a few milliseconds per token in Python (cache objects, masks, module calls,
output classes); at batch 1 on a CPU that is a large share of a GPT-2-124M step. This decoder reads the model's own
weights (no copy) and runs the same arithmetic with a dozen tensor operations per layer:

- `prefill(ids)` runs the prompt with causal attention and fills the cache; `step(token)` runs one token.
  Both return the next-token logits ([vocab], the model's dtype), computed for the last position only.
- The cache is one tensor per model ([layers, 2, heads, capacity, head_dim]), allocated once and reused; float16
  on the native kernels (`KVCacheSlots.use_half_cache`), and every attention, the prompt's too, reads it.
- `quantize_int8()` (CPU only) switches the weight matrices (attention, MLP and the output head) to int8 copies with
  one scale per output channel; activations are quantised per call (scribe's native int8 product where the CPU has
  AVX-512 VNNI, else fbgemm's dynamic linear). The model's own weights are left as they are.
- With the native kernels (`use_native_kernels`, CPU float32 activations), a step runs its layers in one call of
  `scribe.engine.native` (`NativeKernels.step`): per layer the four products, the attention writing the new keys and
  values into the cache, the residual added and the layer norm taken in one pass (twice), the activation in place;
  so does a batched step of drafts (`step_rows`, each row on its own slice of the rows' cache).
- On CUDA, `step` replays a CUDA graph per cache-length bucket (see `_GraphSteps`): the token and position live in
  device tensors, attention covers the bucket with a mask, so a step launches no Python-side kernels.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import torch
import torch.nn.functional as F

from scribe.engine.kv_cache import KVCacheSlots, cached
from scribe.engine.one_row import Projection, in_fresh_memory, one_row_layout

if TYPE_CHECKING:
    from scribe.engine.native import LayerArguments

_TANH_GELU = {"gelu_new", "gelu_pytorch_tanh", "gelu_fast"}
_EXACT_GELU = {"gelu"}


def supports(model: torch.nn.Module) -> bool:
    """True for a decoder-only GPT-2 model whose features this decoder implements."""
    config = getattr(model, "config", None)
    return (
        type(model).__name__ == "GPT2LMHeadModel"
        and config is not None
        and not getattr(config, "add_cross_attention", False)
        and config.activation_function in _TANH_GELU | _EXACT_GELU | {"relu"}
        and model.lm_head.weight.shape[0] == config.vocab_size
    )


@dataclass
class _Layer:
    ln_1: tuple[torch.Tensor, torch.Tensor]
    c_attn: Projection
    c_proj: Projection
    ln_2: tuple[torch.Tensor, torch.Tensor]
    c_fc: Projection
    mlp_proj: Projection
    scale: float

    def projections(self) -> tuple[Projection, ...]:
        return self.c_attn, self.c_proj, self.c_fc, self.mlp_proj


class GPT2Decoder(KVCacheSlots):
    """Prefill and single-token steps for one GPT-2 model; not thread-safe (one stream at a time).

    `cuda_graphs=False` runs the steps eagerly on CUDA too (the baseline the graphs are measured against).
    """

    def __init__(self, model: torch.nn.Module, *, cuda_graphs: bool = True) -> None:
        if not supports(model):
            raise ValueError(f"{type(model).__name__} is not a GPT-2 model this decoder supports")
        config = model.config
        body = model.transformer
        self.device = body.wte.weight.device
        self.dtype = body.wte.weight.dtype
        self.heads = config.n_head
        self.embed = config.n_embd
        self.head_dim = self.embed // self.heads
        self.max_positions = config.n_positions
        self.eps = config.layer_norm_epsilon
        self.wte = body.wte.weight
        self.wpe = body.wpe.weight
        self.ln_f = (body.ln_f.weight, body.ln_f.bias)
        with in_fresh_memory(model):
            self.lm_head = Projection(one_row_layout(model.lm_head.weight, out_in=True),
                                      getattr(model.lm_head, "bias", None))
            self.act: Callable[[torch.Tensor], torch.Tensor] = _activation(config.activation_function)
            self.tanh_gelu = config.activation_function in _TANH_GELU
            self.layers: list[_Layer] = []
            for index, block in enumerate(body.h):
                scale = self.head_dim**-0.5 if config.scale_attn_weights else 1.0
                if config.scale_attn_by_inverse_layer_idx:
                    scale /= float(index + 1)
                self.layers.append(
                    _Layer(
                        ln_1=(block.ln_1.weight, block.ln_1.bias),
                        c_attn=_conv1d(block.attn.c_attn),
                        c_proj=_conv1d(block.attn.c_proj),
                        ln_2=(block.ln_2.weight, block.ln_2.bias),
                        c_fc=_conv1d(block.mlp.c_fc),
                        mlp_proj=_conv1d(block.mlp.c_proj),
                        scale=scale,
                    )
                )
        self.cache: torch.Tensor | None = None
        self.length = 0
        """Positions filled in the cache."""
        self.rows_cache: torch.Tensor | None = None
        self.rows_length = 0
        """Positions filled in the rows' cache (`fork`, `step_rows`)."""
        self.quantized = False
        self._graphs = _GraphSteps(self) if cuda_graphs and self.device.type == "cuda" else None

    def reserve(self, capacity: int, *, keep: bool = False) -> None:
        """Make room for `capacity` positions (at most the model's context); the cache is emptied unless `keep` (then
        the cached positions stay, copied over when the cache grows)."""
        capacity = min(capacity, self.max_positions)
        if self.cache is None or self.cache.shape[3] < capacity:
            if self._graphs is not None:  # graphs point into the old cache; round up so they are rarely rebuilt
                capacity = self.max_positions
                self._graphs = _GraphSteps(self)
            self._allocate((len(self.layers), 2, self.heads, capacity, self.head_dim), keep=keep)
        if not keep:
            self.length = 0

    def prefill(self, ids: torch.Tensor) -> torch.Tensor:
        """Run the prompt `ids` (1-D) from an empty cache; the logits for the position after it."""
        return self._head(self._hidden(ids)[-1:])[0]

    def extend(self, ids: torch.Tensor) -> torch.Tensor:
        """Run `ids` (1-D) at the next positions, after what the cache holds; the logits for the position after
        them (the prompt cache runs only the tokens after the prefix it kept)."""
        return self._head(self._hidden(ids, start=self.length)[-1:])[0]

    def score(self, ids: torch.Tensor) -> torch.Tensor:
        """The next-token logits after every position of `ids` ([len, vocab]; fills the cache like `prefill`)."""
        return self._head(self._hidden(ids))

    def _hidden(self, ids: torch.Tensor, *, start: int = 0) -> torch.Tensor:
        """Run `ids` at positions `start`... (after the cache's first `start` positions); the last block's output at
        each of them."""
        count = ids.numel()
        end = start + count
        if count == 0 or end > self.capacity:
            raise ValueError(f"{count} tokens after {start} cached positions for a cache of {self.capacity}")
        assert self.cache is not None
        # after cached positions, causal attention over the whole cache: token i sees the cache up to start + i
        mask = torch.ones(count, end, dtype=torch.bool, device=self.device).tril(start) if start and count > 1 else None
        x = self.wte[ids] + self.wpe[start:end]
        for index, layer in enumerate(self.layers):
            h = F.layer_norm(x, (self.embed,), *layer.ln_1, self.eps)
            q, k, v = layer.c_attn(h).view(count, 3, self.heads, self.head_dim).permute(1, 2, 0, 3)
            kv = self.cache[index]
            kv[0, :, start:end] = k
            kv[1, :, start:end] = v
            keys, values = cached(kv[None, 0, :, :end], q), cached(kv[None, 1, :, :end], q)
            a = F.scaled_dot_product_attention(q[None], keys, values, attn_mask=mask, is_causal=start == 0,
                                               scale=layer.scale)[0]
            x = x + layer.c_proj(a.transpose(0, 1).reshape(count, self.embed))
            h = F.layer_norm(x, (self.embed,), *layer.ln_2, self.eps)
            x = x + layer.mlp_proj(self.act(layer.c_fc(h)))
        self.length = end
        return x

    def step(self, token: torch.Tensor) -> torch.Tensor:
        """Run one token (a 1-element long tensor on the model's device) at the next position; its next logits."""
        position = self.length
        if position >= self.capacity:
            raise ValueError(f"the cache of {self.capacity} positions is full")
        self.length = position + 1
        if self._graphs is not None:
            return self._graphs.step(token, position)
        assert self.cache is not None
        if self.kernels is not None:
            return self._step_native(token.view(1), position, self.cache)[0]
        x = self.wte[token] + self.wpe[position]
        end = position + 1
        for index, layer in enumerate(self.layers):
            h = F.layer_norm(x, (self.embed,), *layer.ln_1, self.eps)
            qkv = layer.c_attn(h).view(3, self.heads, 1, self.head_dim)
            kv = self.cache[index]
            kv[:, :, position:end] = qkv[1:]
            keys_t, values = cached(kv[0, :, :end].transpose(1, 2), x), cached(kv[1, :, :end], x)
            a = self.attend(qkv[0], keys_t, values, layer.scale)
            x = x + layer.c_proj(a.view(1, self.embed))
            h = F.layer_norm(x, (self.embed,), *layer.ln_2, self.eps)
            x = x + layer.mlp_proj(self.act(layer.c_fc(h)))
        return self._head(x)[0]

    def native_layers(self) -> ctypes.Array[LayerArguments] | None:
        """The layers for the native step (GPT-2's tanh gelu only; other activations step in PyTorch)."""
        from scribe.engine.native import layer_arguments

        if not self.tanh_gelu:
            return None
        norms = [layer.ln_1 for layer in self.layers[1:]] + [self.ln_f]
        return layer_arguments([(layer.projections(),
                                 layer.ln_2, after, layer.scale) for layer, after in zip(self.layers, norms)])

    def _step_native(self, tokens: torch.Tensor, position: int, cache: torch.Tensor) -> torch.Tensor:
        """A step of one token per row on the native kernels, one call for the layers (see the module's docstring);
        the rows' next-token logits ([rows, vocab])."""
        assert self.kernels is not None and self.layer_arguments is not None
        x = self.wte[tokens] + self.wpe[position]
        h = self.kernels.step(self.layer_arguments, llama=False, x=x, cache=cache, position=position, heads=self.heads,
                              inner=self.layers[0].c_fc.weight.shape[1], first_norm=self.layers[0].ln_1, eps=self.eps)
        return self.lm_head(h)

    def fork(self, rows: int) -> None:
        """Copy the cached positions into `rows` rows for `step_rows` (several continuations of one prompt)."""
        assert self.cache is not None
        self.rows_cache = self.cache[:, :, None].repeat(1, 1, rows, 1, 1, 1)  # [layers, 2, rows, heads, capacity, dim]
        self.rows_length = self.length

    def unfork(self) -> None:
        """Free the rows' cache (the batch is over)."""
        self.rows_cache = None
        self.rows_length = 0

    def step_rows(self, tokens: torch.Tensor) -> torch.Tensor:
        """One token per row (a [rows] long tensor) at the rows' next position, as one batched step after `fork`;
        the next-token logits of each row ([rows, vocab])."""
        position, rows = self.rows_length, tokens.numel()
        if position >= self.capacity:
            raise ValueError(f"the cache of {self.capacity} positions is full")
        assert self.rows_cache is not None
        end = position + 1
        if self.steps_rows_natively(rows):
            self.rows_length = end
            return self._step_native(tokens, position, self.rows_cache)
        x = self.wte[tokens] + self.wpe[position]
        for index, layer in enumerate(self.layers):
            h = F.layer_norm(x, (self.embed,), *layer.ln_1, self.eps)
            q, k, v = layer.c_attn(h).view(rows, 3, self.heads, self.head_dim).unbind(1)
            kv = self.rows_cache[index]
            kv[0, :, :, position] = k
            kv[1, :, :, position] = v
            keys, values = cached(kv[0, :, :, :end], q), cached(kv[1, :, :, :end], q)
            a = F.scaled_dot_product_attention(q[:, :, None], keys, values, scale=layer.scale)
            x = x + layer.c_proj(a.reshape(rows, self.embed))
            h = F.layer_norm(x, (self.embed,), *layer.ln_2, self.eps)
            x = x + layer.mlp_proj(self.act(layer.c_fc(h)))
        self.rows_length = end
        return self._head(x)

    def step_masked(self, token: torch.Tensor, position: torch.Tensor, window: int) -> torch.Tensor:
        """`step` with the position as a device tensor and attention over the first `window` cache slots, masked
        past `position`: every shape is fixed, so a CUDA graph can capture it. Does not move `length`."""
        assert self.cache is not None
        slots = torch.arange(window, device=self.device)
        visible = (slots <= position)[None, None, None, :]
        x = self.wte[token] + self.wpe[position]
        for index, layer in enumerate(self.layers):
            h = F.layer_norm(x, (self.embed,), *layer.ln_1, self.eps)
            q, k, v = layer.c_attn(h).view(3, self.heads, 1, self.head_dim)
            kv = self.cache[index]
            kv[0].index_copy_(1, position, k)
            kv[1].index_copy_(1, position, v)
            a = F.scaled_dot_product_attention(
                q[None], kv[None, 0, :, :window], kv[None, 1, :, :window], attn_mask=visible, scale=layer.scale
            )
            x = x + layer.c_proj(a.view(1, self.embed))
            h = F.layer_norm(x, (self.embed,), *layer.ln_2, self.eps)
            x = x + layer.mlp_proj(self.act(layer.c_fc(h)))
        return self._head(x)[0]

    def _head(self, x: torch.Tensor) -> torch.Tensor:
        h = F.layer_norm(x, (self.embed,), *self.ln_f, self.eps)
        return self.lm_head(h)


class _GraphSteps:
    """CUDA graphs of `GPT2Decoder.step_masked`, one per attention window (256, 512, ... up to the capacity).

    A step copies its token and position into static device tensors and replays the graph of the smallest window
    that covers the position; the logits come back in the graph's static output tensor (valid until the next step).
    """

    FIRST_WINDOW = 256

    def __init__(self, decoder: GPT2Decoder) -> None:
        self.decoder = decoder
        self.token = torch.zeros(1, dtype=torch.long, device=decoder.device)
        self.position = torch.zeros(1, dtype=torch.long, device=decoder.device)
        self.graphs: dict[int, tuple[torch.cuda.CUDAGraph, torch.Tensor]] = {}

    def step(self, token: torch.Tensor, position: int) -> torch.Tensor:
        self.token.copy_(token.view(1))
        self.position.fill_(position)
        window = self.FIRST_WINDOW
        while window <= position:
            window *= 2
        window = min(window, self.decoder.capacity)
        if window not in self.graphs:
            self.graphs[window] = self._capture(window)
        graph, logits = self.graphs[window]
        graph.replay()
        return logits

    def _capture(self, window: int) -> tuple[torch.cuda.CUDAGraph, torch.Tensor]:
        """Warm up on a side stream, then capture (the warm-up computes this very step, so its cache writes are the
        ones the replay makes)."""
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(2):
                self.decoder.step_masked(self.token, self.position, window)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            logits = self.decoder.step_masked(self.token, self.position, window)
        return graph, logits


def _conv1d(layer: torch.nn.Module) -> Projection:
    """A projection on the weight (re-stored by `one_row_layout`) and bias of transformers' Conv1D `layer`."""
    return Projection(one_row_layout(layer.weight, out_in=False), layer.bias)


def _activation(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    if name in _TANH_GELU:
        return lambda x: F.gelu(x, approximate="tanh")
    if name in _EXACT_GELU:
        return F.gelu
    return F.relu
