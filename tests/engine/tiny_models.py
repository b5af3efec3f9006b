"""Tiny random models built at test time: a byte-level BPE tokenizer trained on a few kB of text, and random Llama
and Qwen2 models saved as Hugging Face folders (optionally with a chat template); `streamed_tokens` reads what a
backend streams from them."""

from __future__ import annotations

from pathlib import Path

TEXT = (
    "It was a dark and stormy night; the rain fell in torrents, except at occasional intervals, when it was checked "
    "by a violent gust of wind which swept up the streets. The lamps struggled against the darkness. "
    "She opened the door and looked out at the garden, where the roses bent under the weight of the water. "
) * 20
CHAT_TEMPLATE = (
    "{% for message in messages %}<|{{ message['role'] }}|>{{ message['content'] }}<|end|>{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
SPECIALS = ["<s>", "</s>", "<|user|>", "<|assistant|>", "<|system|>", "<|end|>"]


def save_tokenizer(folder: Path, *, vocab_size: int = 300, chat_template: str | None = None) -> object:
    """Train a byte-level BPE on TEXT and save it (tokenizer.json) as a transformers fast tokenizer in `folder`."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator([TEXT], trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token="<s>", eos_token="</s>")
    if chat_template is not None:
        fast.chat_template = chat_template
    folder.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(folder)
    return fast


def save_tiny_llama(folder: Path, architecture: str = "llama", *, chat_template: str | None = None,
                    layers: int = 2, context: int = 256, hidden: int = 64, vocab_size: int | None = None,
                    heads: int = 4, kv_heads: int = 2) -> Path:
    """A seeded random Llama or Qwen2 (grouped-query attention: `heads` query heads, `kv_heads` key/value heads) with
    the tiny tokenizer, saved in `folder`; a `vocab_size` above the tokenizer's gives the model unused rows (a
    realistic output-head size for benchmarks)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

    tokenizer = save_tokenizer(folder, chat_template=chat_template)
    config_class, model_class = {"llama": (LlamaConfig, LlamaForCausalLM),
                                 "qwen2": (Qwen2Config, Qwen2ForCausalLM)}[architecture]
    config = config_class(vocab_size=max(vocab_size or 0, len(tokenizer)), hidden_size=hidden,
                          intermediate_size=2 * hidden, num_hidden_layers=layers,
                          num_attention_heads=heads, num_key_value_heads=kv_heads, max_position_embeddings=context,
                          bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                          tie_word_embeddings=False, initializer_range=0.2)
    torch.manual_seed(0)
    model_class(config).save_pretrained(folder)
    return folder


def write_gguf(hf_folder: Path, path: Path) -> Path:
    """Write the Qwen2 model in `hf_folder` as a float32 GGUF file (llama.cpp's qwen2 architecture: rotate-half
    rotary positions as in transformers, so no weight permutation is needed), tokenizer and chat template included."""
    import json

    import numpy as np
    from gguf import GGUFWriter, TokenType
    from safetensors.numpy import load_file
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(hf_folder)
    assert config.model_type == "qwen2", "write_gguf writes Qwen2 models"
    tokenizer = json.loads((hf_folder / "tokenizer.json").read_text())
    tokenizer_config = json.loads((hf_folder / "tokenizer_config.json").read_text())
    vocab = tokenizer["model"]["vocab"]
    added = {t["content"]: t["id"] for t in tokenizer["added_tokens"]}
    tokens = sorted({**vocab, **added}.items(), key=lambda item: item[1])
    assert [i for _, i in tokens] == list(range(len(tokens)))
    tokens += [(f"<unused{i}>", i) for i in range(len(tokens), config.vocab_size)]  # rows the tokenizer never uses
    merges = [m if isinstance(m, str) else " ".join(m) for m in tokenizer["model"]["merges"]]
    rope = getattr(config, "rope_theta", None) or (getattr(config, "rope_parameters", None) or {}).get("rope_theta")

    writer = GGUFWriter(str(path), "qwen2")
    writer.add_name("tiny-qwen2")
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_block_count(config.num_hidden_layers)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(config.num_attention_heads)
    writer.add_head_count_kv(config.num_key_value_heads)
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    writer.add_rope_freq_base(float(rope or 10000.0))
    writer.add_file_type(0)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("default")
    writer.add_token_list([t for t, _ in tokens])
    writer.add_token_types([TokenType.CONTROL if t in added else TokenType.UNUSED if i >= len(vocab) + len(added)
                            else TokenType.NORMAL for t, i in tokens])
    writer.add_token_merges(merges)
    writer.add_bos_token_id(config.bos_token_id)
    writer.add_eos_token_id(config.eos_token_id)
    writer.add_add_bos_token(False)
    if tokenizer_config.get("chat_template"):
        writer.add_chat_template(tokenizer_config["chat_template"])
    elif (hf_folder / "chat_template.jinja").exists():
        writer.add_chat_template((hf_folder / "chat_template.jinja").read_text())

    weights = load_file(hf_folder / "model.safetensors")
    names = {"model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight",
             "lm_head.weight": "output.weight"}
    parts = {"input_layernorm.weight": "attn_norm.weight", "post_attention_layernorm.weight": "ffn_norm.weight",
             "self_attn.q_proj.weight": "attn_q.weight", "self_attn.q_proj.bias": "attn_q.bias",
             "self_attn.k_proj.weight": "attn_k.weight", "self_attn.k_proj.bias": "attn_k.bias",
             "self_attn.v_proj.weight": "attn_v.weight", "self_attn.v_proj.bias": "attn_v.bias",
             "self_attn.o_proj.weight": "attn_output.weight", "mlp.gate_proj.weight": "ffn_gate.weight",
             "mlp.up_proj.weight": "ffn_up.weight", "mlp.down_proj.weight": "ffn_down.weight"}
    for layer in range(config.num_hidden_layers):
        for hf_name, gguf_name in parts.items():
            names[f"model.layers.{layer}.{hf_name}"] = f"blk.{layer}.{gguf_name}"
    for hf_name, gguf_name in names.items():
        writer.add_tensor(gguf_name, np.ascontiguousarray(weights[hf_name], dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def streamed_tokens(backend: object, prompt: str, params: object) -> tuple[list[int], list[list[float]]]:
    """Stream `prompt` with top-5 alternatives through `backend` (checking the stream ended cleanly after at least
    one token); the token ids and each token's alternatives' raw probabilities."""
    from scribe.engine.base import StreamEnd

    events = list(backend.stream(prompt, params, alternatives=5))  # type: ignore[attr-defined]
    end = events[-1]
    assert isinstance(end, StreamEnd) and end.error is None and end.tokens == len(events) - 1 > 0, end
    return [e.token_id for e in events[:-1]], [[a.raw_prob for a in e.alternatives] for e in events[:-1]]
