"""A quick-start loader for GPT-2 folders: config.json, model.safetensors and tokenizer.json read without transformers.

`scribe generate` on a small GPT-2 spent most of its start-up importing transformers, although scribe decodes GPT-2
with its own step (`scribe.engine.gpt2_decoder`) and samples with its own sampler. Here the weights come from
safetensors, the tokenizer from the `tokenizers` library, and the result is a `TransformersBackend` that streams
exactly as the full one does (same decoder, sampler, token ids and text), with only `Capability.LOGITS`: scoring,
analysis, search and chat need transformers' model, so callers that need them load the folder the usual way
(`scribe.engine.registry.load_model(..., light=False)`, the default).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from scribe.context_length import hf_context_length
from scribe.engine.base import Capability, ModelInfo, ModelLoadError
from scribe.engine.streaming import one_line
from scribe.engine.transformers_backend import TransformersBackend, cpu_choices

GPT2_POSITIONS = 1024
"""GPT-2's context length when its config.json does not say (transformers' GPT2Config default)."""
_CONFIG_DEFAULTS = {  # transformers' GPT2Config defaults for what the decoder reads
    "n_positions": GPT2_POSITIONS, "n_embd": 768, "n_head": 12, "layer_norm_epsilon": 1e-5, "activation_function": "gelu_new",
    "scale_attn_weights": True, "scale_attn_by_inverse_layer_idx": False, "add_cross_attention": False,
    "tie_word_embeddings": True,
}
_FLOAT32 = ("auto", "float32", "fp32", "int8")


def can_load(path: Path, *, device: str, dtype: str, trust_remote_code: bool) -> bool:
    """True for a GPT-2 folder this loader reads as the full loader would: one model.safetensors, a tokenizer.json,
    no code of its own, on the CPU in float32 (or int8)."""
    if device not in ("auto", "cpu") or dtype not in _FLOAT32 or not path.is_dir():
        return False
    if not ((path / "model.safetensors").is_file() and (path / "tokenizer.json").is_file()):
        return False
    config = _read_json(path / "config.json")
    if config is None or config.get("model_type") != "gpt2" or config.get("add_cross_attention"):
        return False
    if config.get("architectures", ["GPT2LMHeadModel"]) != ["GPT2LMHeadModel"]:
        return False
    if "auto_map" in config and trust_remote_code:
        return False
    if device == "auto":
        import torch

        return not (torch.cuda.is_available() or torch.backends.mps.is_available())
    return True


class LightGPT2Backend(TransformersBackend):
    """A GPT-2 folder loaded by `load_light`: streaming with scribe's decoder and sampler only."""

    capabilities = frozenset({Capability.LOGITS})

    def unavailable(self, capability: Capability | str) -> str:
        """The quick-start loader streams only."""
        return (f"{self.info.name} was loaded for streaming only (scribe's quick-start loader); "
                f"load it in the studio for {Capability(capability).value}")


def load_light(path: Path, *, name: str | None = None, dtype: str = "auto") -> LightGPT2Backend:
    """The GPT-2 folder `path` (one that `can_load` accepts) as a streaming backend, without importing transformers;
    ModelLoadError naming the file on any failure."""
    from safetensors.torch import load_file
    from tokenizers import Tokenizer

    threads, openblas = cpu_choices()
    config = {**_CONFIG_DEFAULTS, **(_read_json(path / "config.json") or {})}
    generation = _read_json(path / "generation_config.json") or {}
    try:
        tokenizer = _Tokenizer(Tokenizer.from_file(str(path / "tokenizer.json")),
                               _read_json(path / "tokenizer_config.json") or {})
    except Exception as exc:
        raise ModelLoadError(f"{path / 'tokenizer.json'}: cannot load the tokenizer: {one_line(exc)}") from exc
    try:
        tensors = load_file(path / "model.safetensors", device="cpu")
        model = GPT2LMHeadModel(config, tensors, generation)
    except Exception as exc:
        raise ModelLoadError(f"{path / 'model.safetensors'}: cannot load the weights: {one_line(exc)}") from exc
    int8 = dtype == "int8"
    info = ModelInfo(
        name=name or path.name,
        backend="transformers",
        location=str(path),
        device="cpu",
        dtype="int8" if int8 else "float32",
        context_length=hf_context_length(config) or GPT2_POSITIONS,
        vocab_size=int(config.get("vocab_size") or len(tokenizer)),
        parameters=sum(t.numel() for t in model.parameters()),
        extra={"architecture": "GPT2LMHeadModel", "weights": "safetensors", "cpu_threads": str(threads),
               "loader": "quick start (safetensors + tokenizers)"},
    )
    try:
        return LightGPT2Backend(model, tokenizer, info, int8=int8, openblas=openblas)
    except (RuntimeError, ValueError) as exc:
        raise ModelLoadError(f"{path}: cannot prepare the decoder: {one_line(exc)}") from exc


class GPT2LMHeadModel:
    """transformers' GPT-2 model as far as `GPT2Decoder` and `TransformersBackend` read it: the config, the weights
    under the same names, and the generation config's end token. (Named like transformers' class, which is what
    `gpt2_decoder.supports` checks.)"""

    def __init__(self, config: dict[str, Any], tensors: dict[str, Any], generation: dict[str, Any]) -> None:
        weights = {key.removeprefix("transformer."): value.float() for key, value in tensors.items()}
        self.config = SimpleNamespace(**config)
        self.generation_config = SimpleNamespace(eos_token_id=generation.get("eos_token_id", config.get("eos_token_id")))

        def module(prefix: str, *names: str) -> SimpleNamespace:
            missing = [f"{prefix}.{n}" for n in names if f"{prefix}.{n}" not in weights]
            if missing:
                raise ValueError(f"no tensor {missing[0]!r}")
            return SimpleNamespace(**{n: weights[f"{prefix}.{n}"] for n in names})

        layers = int(config.get("n_layer") or 1 + max(int(k.split(".")[1]) for k in weights if k.startswith("h.")))
        self.transformer = SimpleNamespace(
            wte=module("wte", "weight"), wpe=module("wpe", "weight"), ln_f=module("ln_f", "weight", "bias"),
            h=[SimpleNamespace(
                ln_1=module(f"h.{i}.ln_1", "weight", "bias"), ln_2=module(f"h.{i}.ln_2", "weight", "bias"),
                attn=SimpleNamespace(c_attn=module(f"h.{i}.attn.c_attn", "weight", "bias"),
                                     c_proj=module(f"h.{i}.attn.c_proj", "weight", "bias")),
                mlp=SimpleNamespace(c_fc=module(f"h.{i}.mlp.c_fc", "weight", "bias"),
                                    c_proj=module(f"h.{i}.mlp.c_proj", "weight", "bias")),
            ) for i in range(layers)],
        )
        head = weights.get("lm_head.weight") if not config["tie_word_embeddings"] else None
        self.lm_head = SimpleNamespace(weight=head if head is not None else weights["wte.weight"])

    def parameters(self) -> Iterator[Any]:
        """Each weight tensor once (the tied output head is the embedding)."""
        seen: set[int] = set()
        stack: list[Any] = [self.transformer, self.lm_head]
        while stack:
            item = stack.pop()
            if isinstance(item, SimpleNamespace):
                stack.extend(vars(item).values())
            elif isinstance(item, list):
                stack.extend(item)
            elif id(item) not in seen:
                seen.add(id(item))
                yield item


class _Tokenizer:
    """The calls `TransformersBackend` makes on a transformers tokenizer, answered from tokenizer.json."""

    chat_template = None

    def __init__(self, tokenizer: Any, settings: dict[str, Any]) -> None:
        self._tokenizer = tokenizer
        self.bos_token_id = self._special(settings.get("bos_token"))
        self.eos_token_id = self._special(settings.get("eos_token"))

    def __call__(self, text: str) -> dict[str, list[int]]:
        return {"input_ids": self._tokenizer.encode(text).ids}

    def __len__(self) -> int:
        return int(self._tokenizer.get_vocab_size(with_added_tokens=True))

    @property
    def backend_tokenizer(self) -> Any:
        """The Rust tokenizer itself (transformers' fast tokenizers name it so)."""
        return self._tokenizer

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = False,
               clean_up_tokenization_spaces: bool = False) -> str:
        """The text of `ids` (the backend never asks for transformers' space clean-up)."""
        return str(self._tokenizer.decode(list(ids), skip_special_tokens=skip_special_tokens))

    def _special(self, token: object) -> int | None:
        if isinstance(token, dict):
            token = token.get("content")
        return self._tokenizer.token_to_id(token) if isinstance(token, str) else None


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
