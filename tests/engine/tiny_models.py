"""Tiny random models built at test time: a byte-level BPE tokenizer trained on a few kB of text, and random Llama
and Qwen2 models saved as Hugging Face folders (optionally with a chat template)."""

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
                    layers: int = 2, context: int = 256) -> Path:
    """A seeded random Llama or Qwen2 (grouped-query attention) with the tiny tokenizer, saved in `folder`."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

    tokenizer = save_tokenizer(folder, chat_template=chat_template)
    config_class, model_class = {"llama": (LlamaConfig, LlamaForCausalLM),
                                 "qwen2": (Qwen2Config, Qwen2ForCausalLM)}[architecture]
    config = config_class(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=layers,
                          num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=context,
                          bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                          tie_word_embeddings=False, initializer_range=0.2)
    torch.manual_seed(0)
    model_class(config).save_pretrained(folder)
    return folder
