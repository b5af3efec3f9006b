"""Write a Hugging Face GPT-2 or Llama folder (safetensors) as a GGUF file for llama.cpp, in float32 or q8_0, at bench
time with the `gguf` package (llama.cpp's own converter is not shipped with it).

What llama.cpp's `convert_hf_to_gguf.py` does for these two architectures, and only that:

- GPT-2 (`gpt2`): Conv1D weights ([in, out]) are transposed to [out, in]; the tied output head is written as its own
  matrix (a copy of the token embedding, as the converter does).
- Llama (`llama`): the query and key rows are permuted from transformers' rotate-half layout to llama.cpp's
  interleaved rotary layout (the converter's `LlamaModel.permute`); a tied output head is left out likewise.
- q8_0 (`--outtype q8_0`): every 2-D matrix except the position embedding is quantised (`gguf.quants.quantize`: blocks
  of 32 with one float16 scale); 1-D tensors (norms, biases) stay float32.
- The tokenizer (tokens, merges, special ids) comes from the folder's `tokenizer.json`; rows of the model past the
  tokenizer's vocabulary get unused placeholder tokens.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

QTYPES = ("f32", "q8_0")


def export_gguf(folder: Path, path: Path, qtype: str = "f32") -> Path:
    """Write the GPT-2 or Llama model saved in `folder` to `path` with matrices in `qtype` ("f32" or "q8_0")."""
    from gguf import GGMLQuantizationType, GGUFWriter, LlamaFileType
    from gguf.quants import quantize
    from safetensors.numpy import load_file

    if qtype not in QTYPES:
        raise ValueError(f"qtype must be one of {QTYPES}, got {qtype!r}")
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    weights = load_file(folder / "model.safetensors")
    architecture = {"gpt2": "gpt2", "llama": "llama"}.get(config["model_type"])
    if architecture is None:
        raise ValueError(f"{folder}: model_type {config['model_type']!r}; gguf_export writes gpt2 and llama")
    tensors = _gpt2_tensors(config, weights) if architecture == "gpt2" else _llama_tensors(config, weights)

    writer = GGUFWriter(str(path), architecture)
    writer.add_name(f"random-{architecture}")
    writer.add_file_type(LlamaFileType.ALL_F32 if qtype == "f32" else LlamaFileType.MOSTLY_Q8_0)
    if architecture == "gpt2":
        writer.add_context_length(config.get("n_positions", 1024))
        writer.add_embedding_length(config.get("n_embd", 768))
        writer.add_feed_forward_length(4 * config.get("n_embd", 768))
        writer.add_block_count(config.get("n_layer", 12))
        writer.add_head_count(config.get("n_head", 12))
        writer.add_layer_norm_eps(config.get("layer_norm_epsilon", 1e-5))
    else:
        heads = config["num_attention_heads"]
        writer.add_context_length(config["max_position_embeddings"])
        writer.add_embedding_length(config["hidden_size"])
        writer.add_feed_forward_length(config["intermediate_size"])
        writer.add_block_count(config["num_hidden_layers"])
        writer.add_head_count(heads)
        writer.add_head_count_kv(config.get("num_key_value_heads") or heads)
        writer.add_layer_norm_rms_eps(config["rms_norm_eps"])
        writer.add_rope_dimension_count(config.get("head_dim") or config["hidden_size"] // heads)
        rope = config.get("rope_theta") or (config.get("rope_parameters") or {}).get("rope_theta") or 10000.0
        writer.add_rope_freq_base(float(rope))
    vocab_size = config.get("vocab_size") or weights[_embedding_name(weights)].shape[0]
    _add_tokenizer(writer, folder, vocab_size, architecture)
    for name, array in tensors.items():
        array = np.ascontiguousarray(array, dtype=np.float32)
        if qtype == "q8_0" and array.ndim == 2 and name != "position_embd.weight":
            writer.add_tensor(name, quantize(array, GGMLQuantizationType.Q8_0), raw_dtype=GGMLQuantizationType.Q8_0)
        else:
            writer.add_tensor(name, array)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def _embedding_name(weights: dict[str, np.ndarray]) -> str:
    return next(name for name in weights if name.endswith(("wte.weight", "embed_tokens.weight")))


def _gpt2_tensors(config: dict, weights: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    w = {name.removeprefix("transformer."): value for name, value in weights.items()}
    out = {"token_embd.weight": w["wte.weight"], "position_embd.weight": w["wpe.weight"],
           "output_norm.weight": w["ln_f.weight"], "output_norm.bias": w["ln_f.bias"]}
    # the converter writes GPT-2's tied head as its own output matrix (a copy of the token embedding)
    out["output.weight"] = w["lm_head.weight"] if "lm_head.weight" in w else w["wte.weight"]
    parts = {"ln_1": "attn_norm", "attn.c_attn": "attn_qkv", "attn.c_proj": "attn_output", "ln_2": "ffn_norm",
             "mlp.c_fc": "ffn_up", "mlp.c_proj": "ffn_down"}
    for layer in range(config.get("n_layer", 12)):
        for hf, gguf_name in parts.items():
            weight = w[f"h.{layer}.{hf}.weight"]
            out[f"blk.{layer}.{gguf_name}.weight"] = weight if weight.ndim == 1 else weight.T  # Conv1D: [in, out]
            out[f"blk.{layer}.{gguf_name}.bias"] = w[f"h.{layer}.{hf}.bias"]
    return out


def _llama_tensors(config: dict, weights: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    heads = config["num_attention_heads"]
    kv_heads = config.get("num_key_value_heads") or heads
    w = {name.removeprefix("model."): value for name, value in weights.items()}
    out = {"token_embd.weight": w["embed_tokens.weight"], "output_norm.weight": w["norm.weight"]}
    if "lm_head.weight" in w and not config.get("tie_word_embeddings", False):
        out["output.weight"] = w["lm_head.weight"]
    parts = {"input_layernorm": "attn_norm", "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k",
             "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output", "post_attention_layernorm": "ffn_norm",
             "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down"}
    for layer in range(config["num_hidden_layers"]):
        for hf, gguf_name in parts.items():
            weight = w[f"layers.{layer}.{hf}.weight"]
            if gguf_name in ("attn_q", "attn_k"):
                weight = _interleave_rotary(weight, heads if gguf_name == "attn_q" else kv_heads)
            out[f"blk.{layer}.{gguf_name}.weight"] = weight
    return out


def _interleave_rotary(weight: np.ndarray, heads: int) -> np.ndarray:
    """Rows of a query or key projection from rotate-half order to llama.cpp's interleaved pairs (per head)."""
    return weight.reshape(heads, 2, weight.shape[0] // heads // 2, *weight.shape[1:]).swapaxes(1, 2).reshape(weight.shape)


def _add_tokenizer(writer, folder: Path, vocab_size: int, architecture: str) -> None:
    from gguf import TokenType

    tokenizer = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    settings = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    added = {t["content"]: t["id"] for t in tokenizer.get("added_tokens", [])}
    ids = {**tokenizer["model"]["vocab"], **added}
    tokens = sorted(ids.items(), key=lambda item: item[1])
    known = len(tokens)
    tokens += [(f"<unused{i}>", i) for i in range(known, vocab_size)]
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("gpt-2" if architecture == "gpt2" else "default")
    writer.add_token_list([token for token, _ in tokens])
    writer.add_token_types([TokenType.CONTROL if token in added else TokenType.UNUSED if i >= known
                            else TokenType.NORMAL for token, i in tokens])
    writer.add_token_merges([m if isinstance(m, str) else " ".join(m) for m in tokenizer["model"]["merges"]])
    for key, add in (("bos_token", writer.add_bos_token_id), ("eos_token", writer.add_eos_token_id)):
        special = settings.get(key)
        special = special.get("content") if isinstance(special, dict) else special
        if special in ids:
            add(ids[special])
    writer.add_add_bos_token(False)
