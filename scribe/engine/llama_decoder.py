"""A hand-written decode step for Llama-architecture models (Llama, Qwen2, SmolLM2, Mistral without a sliding window)
with a preallocated key/value cache, as `gpt2_decoder` does for GPT-2.

The architecture: RMSNorm before attention and MLP, rotary positions on queries and keys, grouped-query attention
(fewer key/value heads than query heads), a SwiGLU MLP (``down(silu(gate(x)) * up(x))``), a final RMSNorm and the
output head. The decoder reads the model's own weights (no copy) and the model's own rotary embedding (so any rope
scaling the config asks for, Llama 3's included, is the model's), and runs:

- `prefill(ids)`: the prompt with causal attention, filling the cache; `step(token)`: one token. Both return the
  next-token logits of the last position only ([vocab]).
- The cache is one tensor ([layers, 2, key/value heads, capacity, head_dim]) allocated by `reserve` and reused
  (float16 on the native kernels, read by every attention: `KVCacheSlots.use_half_cache`); the rotary cosines and
  sines for every position are computed once per `reserve`.
- A one-token step (`_step_one`) is where a CPU decode spends its time beyond reading the weights: dozens of small
  operations a layer, each a few microseconds of dispatch. It runs fewer of them: queries and keys are rotated in
  place in the projection's output, the attention scale folded into the queries' cosines and sines (scaled once a
  step); keys and values go into the cache with one copy, through per-layer views made at `reserve`; the MLP's gate
  and up halves are one unbound view; a float32 RMSNorm is a vector norm and three products (`_norm`: 3 us against
  9 us for `F.rms_norm` on a 576-wide row). Measured on a 2-core Intel Xeon (KVM), medians of three runs each,
  interleaved with the plain step: a 30-layer Llama with tiny matrices (nothing but the per-layer work, float32) 3.7
  against 4.5 ms a step; the SmolLM2-135M shape, two sets of runs on a noisy machine, float32 27.2 and 28.7 against
  29.3 and 29.1 ms, int8 15.5 and 13.8 against 17.9 and 14.8 ms.
- Fewer, larger products: the query, key and value projections are one matrix, and so are the MLP's gate and up
  projections (`_fuse`: the model's own weights re-stored as slices of it, in the memory order a one-row product reads
  fastest (`one_row`), so no memory is added and the model's forward pass is unchanged); queries and keys are rotated
  together. A one-token step attends with two batched products per key/value head group (`one_row.attend_one`, or
  through OpenBLAS where the products go there), cheaper than the fused attention kernel there as the context grows.
- With the native kernels (`use_native_kernels`, CPU float32 activations), a step runs its layers in one call of
  `scribe.engine.native` (`NativeKernels.step`): per layer the four products, the rotation of queries and keys, the
  attention writing the new keys and values into the cache, the SwiGLU activation, the residual added and the norm
  taken in one pass (twice); so does a batched step of drafts (`step_rows`, each row on its own slice of the rows'
  cache).
- `quantize_int8()` (CPU only) switches every projection and the output head to int8 copies with one scale per output
  channel (`one_row.Projection`); the model's own weights are left as they are.
"""

from __future__ import annotations

import ctypes
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from scribe.engine.kv_cache import KVCacheSlots, cached
from scribe.engine.one_row import Projection, in_fresh_memory, input_major, one_row_layout

if TYPE_CHECKING:
    from scribe.engine.native import LayerArguments

ARCHITECTURES = frozenset({"LlamaForCausalLM", "Qwen2ForCausalLM", "MistralForCausalLM"})


def supports(model: torch.nn.Module) -> bool:
    """True for a Llama-architecture causal LM whose features this decoder implements (SiLU MLP, full attention)."""
    config = getattr(model, "config", None)
    if type(model).__name__ not in ARCHITECTURES or config is None:
        return False
    windowed = getattr(config, "sliding_window", None) is not None and (
        type(model).__name__ == "MistralForCausalLM" or getattr(config, "use_sliding_window", False))
    return (
        config.hidden_act == "silu"
        and not windowed
        and model.lm_head.weight.shape[0] == config.vocab_size
        and hasattr(model.model, "rotary_emb")
    )


class _Layer:
    def __init__(self, block: torch.nn.Module) -> None:
        attention, mlp = block.self_attn, block.mlp
        self.norm_1 = block.input_layernorm.weight
        self.norm_2 = block.post_attention_layernorm.weight
        self.qkv = _fused_projection(attention.q_proj, attention.k_proj, attention.v_proj)
        self.o = Projection(one_row_layout(attention.o_proj.weight, out_in=True), attention.o_proj.bias)
        self.gate_up = _fused_projection(mlp.gate_proj, mlp.up_proj)
        self.down = Projection(one_row_layout(mlp.down_proj.weight, out_in=True), mlp.down_proj.bias)
        self.intermediate = mlp.gate_proj.weight.shape[0]

    def projections(self) -> tuple[Projection, ...]:
        return self.qkv, self.o, self.gate_up, self.down


class LlamaDecoder(KVCacheSlots):
    """Prefill and single-token steps for one Llama-architecture model; not thread-safe (one stream at a time)."""

    def __init__(self, model: torch.nn.Module) -> None:
        if not supports(model):
            raise ValueError(f"{type(model).__name__} is not a Llama-architecture model this decoder supports")
        config = model.config
        body = model.model
        self.device = body.embed_tokens.weight.device
        self.dtype = body.embed_tokens.weight.dtype
        self.heads = config.num_attention_heads
        self.kv_heads = getattr(config, "num_key_value_heads", None) or self.heads
        self.head_dim = getattr(config, "head_dim", None) or config.hidden_size // self.heads
        self.max_positions = config.max_position_embeddings
        self.eps = config.rms_norm_eps
        self.eps_tensor = torch.tensor([self.eps], dtype=self.dtype, device=self.device)
        rotated = self.heads + self.kv_heads
        self.rotary_scale = torch.ones(rotated, 1, dtype=self.dtype, device=self.device)
        """1 for the key rows of a step's rotation, the attention scale for the query rows."""
        self.rotary_scale[: self.heads] = self.head_dim**-0.5
        self.embed = body.embed_tokens.weight
        self.norm = body.norm.weight
        self.rotary = body.rotary_emb
        with in_fresh_memory(model):
            self.lm_head = Projection(one_row_layout(model.lm_head.weight, out_in=True),
                                      getattr(model.lm_head, "bias", None))
            self.layers = [_Layer(block) for block in body.layers]
        self.cache: torch.Tensor | None = None
        self.layer_caches: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
        """Per layer, views of the cache: keys and values [2, kv heads, capacity, dim], the keys transposed
        [kv heads, dim, capacity], the values [kv heads, capacity, dim]."""
        self.cos: torch.Tensor | None = None
        self.sin: torch.Tensor | None = None
        self.length = 0
        """Positions filled in the cache."""
        self.rows_cache: torch.Tensor | None = None
        self.rows_length = 0
        """Positions filled in the rows' cache (`fork`, `step_rows`)."""
        self.quantized = False

    def reserve(self, capacity: int, *, keep: bool = False) -> None:
        """Make room for `capacity` positions (at most the model's context); the cache is emptied unless `keep` (then
        the cached positions stay, copied over when the cache grows)."""
        capacity = min(capacity, self.max_positions)
        if self.cache is None or self.cache.shape[3] < capacity:
            self._allocate((len(self.layers), 2, self.kv_heads, capacity, self.head_dim), keep=keep)
            assert self.cache is not None
            self.layer_caches = [(kv, kv[0].transpose(1, 2), kv[1]) for kv in self.cache.unbind(0)]
            positions = torch.arange(capacity, device=self.device)[None]
            probe = torch.zeros(1, dtype=self.dtype, device=self.device)
            cos, sin = self.rotary(probe, positions)
            half = self.head_dim // 2
            self.cos = cos[0].to(self.dtype)
            self.sin = torch.cat((-sin[0, :, :half], sin[0, :, half:]), dim=-1).to(self.dtype)  # as `_rotate` takes it
        if not keep:
            self.length = 0

    def prefill(self, ids: torch.Tensor) -> torch.Tensor:
        """Run the prompt `ids` (1-D) from an empty cache; the logits for the position after it."""
        count = ids.numel()
        if count == 0 or count > self.capacity:
            raise ValueError(f"prompt of {count} tokens for a cache of {self.capacity}")
        self.length = 0
        return self._run(ids, causal=True)

    def extend(self, ids: torch.Tensor) -> torch.Tensor:
        """Run `ids` (1-D) at the next positions, after what the cache holds; the logits for the position after
        them (the prompt cache runs only the tokens after the prefix it kept)."""
        if ids.numel() == 0 or self.length + ids.numel() > self.capacity:
            raise ValueError(f"{ids.numel()} tokens after {self.length} cached positions for a cache of {self.capacity}")
        return self._run(ids, causal=True)

    def step(self, token: torch.Tensor) -> torch.Tensor:
        """Run one token (a 1-element long tensor) at the next position; its next-token logits."""
        if self.length >= self.capacity:
            raise ValueError(f"the cache of {self.capacity} positions is full")
        return self._run(token, causal=False)

    def fork(self, rows: int) -> None:
        """Copy the cached positions into `rows` rows for `step_rows` (several continuations of one prompt)."""
        assert self.cache is not None
        self.rows_cache = self.cache[:, :, None].repeat(1, 1, rows, 1, 1, 1)  # [layers, 2, rows, kv heads, capacity, dim]
        self.rows_length = self.length

    def unfork(self) -> None:
        """Free the rows' cache (the batch is over)."""
        self.rows_cache = None
        self.rows_length = 0

    def step_rows(self, tokens: torch.Tensor) -> torch.Tensor:
        """One token per row (a [rows] long tensor) at the rows' next position, as one batched step after `fork`;
        the next-token logits of each row ([rows, vocab])."""
        assert self.rows_cache is not None and self.cos is not None and self.sin is not None
        position, rows = self.rows_length, tokens.numel()
        if position >= self.capacity:
            raise ValueError(f"the cache of {self.capacity} positions is full")
        end = position + 1
        if self.steps_rows_natively(rows):
            self.rows_length = end
            return self._step_native(tokens, position, self.rows_cache)
        cos, sin = self.cos[position:end], self.sin[position:end]
        x = self.embed[tokens]
        heads, kv_heads = self.heads, self.kv_heads
        for index, layer in enumerate(self.layers):
            h = self._norm(x, layer.norm_1)
            qkv = layer.qkv(h).view(rows, heads + 2 * kv_heads, 1, self.head_dim)
            qk = _rotate(qkv[:, : heads + kv_heads], cos, sin)
            q, k, v = qk[:, :heads], qk[:, heads:], qkv[:, heads + kv_heads :]
            kv = self.rows_cache[index]
            kv[0, :, :, position:end] = k
            kv[1, :, :, position:end] = v
            keys, values = cached(kv[0, :, :, :end], q), cached(kv[1, :, :, :end], q)
            a = F.scaled_dot_product_attention(q, keys, values, enable_gqa=self.kv_heads != self.heads)
            x = x + layer.o(a.reshape(rows, self.heads * self.head_dim))
            x = x + self._mlp(layer, x)
        self.rows_length = end
        return self.lm_head(self._norm(x, self.norm))

    def native_layers(self) -> ctypes.Array[LayerArguments] | None:
        """The layers for the native step."""
        from scribe.engine.native import layer_arguments

        norms = [layer.norm_1 for layer in self.layers[1:]] + [self.norm]
        scale = self.head_dim**-0.5
        return layer_arguments([(layer.projections(),
                                 (layer.norm_2, None), (after, None), scale)
                                for layer, after in zip(self.layers, norms)])

    def _step_native(self, tokens: torch.Tensor, position: int, cache: torch.Tensor) -> torch.Tensor:
        """A step of one token per row on the native kernels, one call for the layers (see the module's docstring);
        the rows' next-token logits ([rows, vocab])."""
        assert self.kernels is not None and self.layer_arguments is not None
        assert self.cos is not None and self.sin is not None
        first = self.layers[0]
        h = self.kernels.step(self.layer_arguments, llama=True, x=self.embed[tokens], cache=cache, position=position,
                              heads=self.heads, inner=first.intermediate, first_norm=(first.norm_1, None), eps=self.eps,
                              rotary=(self.cos[position], self.sin[position]))
        return self.lm_head(h)

    def _step_one(self, token: torch.Tensor) -> torch.Tensor:
        """`step`'s work: `_run` for one token with fewer operations (see the module's docstring)."""
        if self.kernels is not None:
            assert self.cache is not None
            self.length += 1
            return self._step_native(token.view(1), self.length - 1, self.cache)[0]
        assert self.cos is not None and self.sin is not None
        position, heads, kv_heads, dim = self.length, self.heads, self.kv_heads, self.head_dim
        end, rotated = position + 1, heads + kv_heads
        cos, sin = self.cos[position] * self.rotary_scale, self.sin[position] * self.rotary_scale
        x = self.embed[token]
        for layer, (kv, keys_t, values) in zip(self.layers, self.layer_caches):
            qkv = layer.qkv(self._norm(x, layer.norm_1)).view(rotated + kv_heads, dim)
            qk = qkv[:rotated]
            torch.addcmul(qk * cos, qk.roll(dim // 2, -1), sin, out=qk)
            kv.select(2, position).copy_(qkv[heads:].view(2, kv_heads, dim))
            a = self.attend(qkv[:heads].view(heads, 1, dim), cached(keys_t[:, :, :end], x),
                            cached(values[:, :end], x))
            x = x + layer.o(a.view(1, heads * dim))
            gate, up = layer.gate_up(self._norm(x, layer.norm_2)).view(2, 1, layer.intermediate)
            x = x + layer.down(F.silu(gate, inplace=True).mul_(up))
        self.length = end
        return self.lm_head(self._norm(x, self.norm))[0]

    def _norm(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """RMSNorm of the rows of `x` with `weight`, as transformers computes it:
        ``x / sqrt(mean(x ** 2) + eps) * weight``. In float32 the mean of squares comes from the vector norm
        (``|x| ** 2 / n``), eps added in the same operation; other dtypes use `F.rms_norm`, which sums in float32."""
        if x.dtype != torch.float32:
            return F.rms_norm(x, (x.shape[-1],), weight, self.eps)
        norm = torch.linalg.vector_norm(x, dim=-1, keepdim=True)
        scale = torch.addcmul(self.eps_tensor, norm, norm, value=1.0 / x.shape[-1]).rsqrt_()
        return torch.mul(x, scale).mul_(weight)

    def _run(self, ids: torch.Tensor, *, causal: bool) -> torch.Tensor:
        if ids.numel() == 1:
            return self._step_one(ids)
        assert self.cache is not None and self.cos is not None and self.sin is not None
        start, count = self.length, ids.numel()
        end = start + count
        cos, sin = self.cos[start:end], self.sin[start:end]
        # several tokens after cached positions: causal attention over the whole cache (token i sees up to start + i)
        mask = (torch.ones(count, end, dtype=torch.bool, device=self.device).tril(start)
                if causal and start > 0 else None)
        x = self.embed[ids]
        heads, kv_heads = self.heads, self.kv_heads
        for index, layer in enumerate(self.layers):
            h = self._norm(x, layer.norm_1)
            qkv = layer.qkv(h).view(count, heads + 2 * kv_heads, self.head_dim).transpose(0, 1)
            qk = _rotate(qkv[: heads + kv_heads], cos, sin)
            q = qk[:heads]
            kv = self.cache[index]
            kv[0, :, start:end] = qk[heads:]
            kv[1, :, start:end] = qkv[heads + kv_heads :]
            keys, values = cached(kv[None, 0, :, :end], q), cached(kv[None, 1, :, :end], q)
            a = F.scaled_dot_product_attention(q[None], keys, values, attn_mask=mask, is_causal=causal and mask is None,
                                               enable_gqa=kv_heads != heads)[0]
            x = x + layer.o(a.transpose(0, 1).reshape(count, heads * self.head_dim))
            x = x + self._mlp(layer, x)
        self.length = end
        last = self._norm(x[-1:], self.norm)
        return self.lm_head(last)[0]

    def _mlp(self, layer: _Layer, x: torch.Tensor) -> torch.Tensor:
        """The SwiGLU MLP of `layer` on the residual `x` (its norm included): down(silu(gate(h)) * up(h))."""
        gate_up = layer.gate_up(self._norm(x, layer.norm_2))
        return layer.down(F.silu(gate_up[..., : layer.intermediate]) * gate_up[..., layer.intermediate :])


def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotary positions on [..., positions, head_dim], transformers' rotate-half form
    (``x * cos + cat(-x2, x1) * sin``) with `sin`'s first half negated beforehand (`reserve`), so that the rotated
    copy is one `roll`: the same products, so the same values."""
    return x * cos + x.roll(x.shape[-1] // 2, -1) * sin


def _fused_projection(*linears: torch.nn.Module) -> Projection:
    """One projection for several linear layers that read the same input, their outputs side by side. The fused
    matrix is built once, in the memory order `one_row.input_major` picks for its shape, and each layer's weight (and
    bias) is re-stored in place as its slice: the same values and no added memory, so the model's own forward pass
    works as before."""
    weights = [linear.weight for linear in linears]
    outputs, inputs = sum(w.shape[0] for w in weights), weights[0].shape[1]
    weight = _fuse(weights, columns=weights[0].device.type == "cpu" and input_major(inputs, outputs))
    biases = [linear.bias for linear in linears]
    if all(b is None for b in biases):
        return Projection(weight, None)
    if any(b is None for b in biases):
        return Projection(weight, torch.cat([torch.zeros(linear.weight.shape[0], dtype=weight.dtype, device=weight.device)
                                             if linear.bias is None else linear.bias.detach() for linear in linears]))
    return Projection(weight, _fuse(biases, columns=False))


def _fuse(parameters: list[torch.Tensor], *, columns: bool) -> torch.Tensor:
    """The parameters (Linear weights [out, in], or biases) concatenated along their first dimension, each re-stored
    as a slice of the result; the [in, out] view of the result for weights (a bias: the result). With `columns` the
    result is stored [in, out] (each weight a column slice), else [out, in] (each a row slice)."""
    with torch.no_grad():
        fused = torch.cat([p.detach() for p in parameters])
        if columns:
            fused = fused.t().contiguous().t()
        start = 0
        for p in parameters:
            p.data = fused[start : start + p.shape[0]]
            start += p.shape[0]
    return fused.t() if fused.dim() == 2 else fused
