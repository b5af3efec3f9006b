"""A tiny Llama model with random weights and a small SentencePiece-style vocabulary, written as GGUF with the `gguf`
package, for tests against llama.cpp's server.

The vocabulary holds the three special tokens, the 256 byte tokens llama.cpp falls back to, single letters and some
whole words (with SentencePiece's "▁" for a leading space), so any text tokenizes. The weights are seeded, so the same
file comes out every time.
"""

from __future__ import annotations

from pathlib import Path

WORDS = ("the", "cat", "sat", "on", "mat", "once", "upon", "a", "time", "there", "was", "dog", "and", "it", "warm")


def write_tiny_llama(path: Path, *, n_embd: int = 64, n_head: int = 4, n_layer: int = 2, n_ff: int = 128,
                     context_length: int = 256, seed: int = 0) -> Path:
    """Write the model to `path` and return it."""
    import gguf
    import numpy as np

    tokens: list[str] = ["<unk>", "<s>", "</s>"]
    types = [gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL]
    tokens += [f"<0x{b:02X}>" for b in range(256)]
    types += [gguf.TokenType.BYTE] * 256
    pieces = ["▁", *"abcdefghijklmnopqrstuvwxyz.,", *(f"▁{w}" for w in WORDS)]
    tokens += pieces
    types += [gguf.TokenType.NORMAL] * len(pieces)
    scores = [0.0] * 259 + [-float(i) for i in range(len(pieces))]
    n_vocab = len(tokens)

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("tiny-random-llama")
    writer.add_context_length(context_length)
    writer.add_embedding_length(n_embd)
    writer.add_block_count(n_layer)
    writer.add_feed_forward_length(n_ff)
    writer.add_head_count(n_head)
    writer.add_head_count_kv(n_head)
    writer.add_rope_dimension_count(n_embd // n_head)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_unk_token_id(0)
    writer.add_add_bos_token(True)

    rng = np.random.default_rng(seed)

    def weight(*shape: int, scale: float = 0.5) -> "np.ndarray":
        # numpy shape (rows, cols) is GGUF's (cols, rows): llama.cpp's {n_in, n_out} is numpy (n_out, n_in)
        return (rng.standard_normal(shape) * scale / np.sqrt(shape[-1])).astype(np.float32)

    writer.add_tensor("token_embd.weight", weight(n_vocab, n_embd, scale=8.0))
    writer.add_tensor("output_norm.weight", np.ones(n_embd, dtype=np.float32))
    writer.add_tensor("output.weight", weight(n_vocab, n_embd, scale=8.0))
    for i in range(n_layer):
        writer.add_tensor(f"blk.{i}.attn_norm.weight", np.ones(n_embd, dtype=np.float32))
        for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
            writer.add_tensor(f"blk.{i}.{name}.weight", weight(n_embd, n_embd))
        writer.add_tensor(f"blk.{i}.ffn_norm.weight", np.ones(n_embd, dtype=np.float32))
        writer.add_tensor(f"blk.{i}.ffn_gate.weight", weight(n_ff, n_embd))
        writer.add_tensor(f"blk.{i}.ffn_up.weight", weight(n_ff, n_embd))
        writer.add_tensor(f"blk.{i}.ffn_down.weight", weight(n_embd, n_ff))

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
