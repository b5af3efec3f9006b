"""A LoRA run's frozen base trains with the run's dropout (default 0), not the rates in its config: the base's
attention then keeps no [length, length] matrices for the backward pass, the adapters keep their own dropout, and the
saved config keeps the model's rates."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from scribe.training.finetune import load_base
from scribe.training.lora import add_adapters, set_base_dropout


def saved_shapes(model: torch.nn.Module, ids: torch.Tensor) -> list[tuple[int, ...]]:
    """The shapes of the tensors a training forward pass keeps for its backward pass."""
    shapes: list[tuple[int, ...]] = []

    def keep(tensor: torch.Tensor) -> torch.Tensor:
        shapes.append(tuple(tensor.shape))
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(keep, lambda tensor: tensor):
        model(input_ids=ids).logits.sum()
    return shapes


@pytest.fixture
def gpt2_base(tmp_path: Path, random_gpt2) -> Path:  # noqa: ANN001
    return random_gpt2(tmp_path / "base", n_layer=2, n_head=2, n_embd=16, n_positions=64, attn_pdrop=0.1,
                       resid_pdrop=0.1, embd_pdrop=0.1)


def test_the_base_trains_without_its_dropout_and_the_adapters_with_theirs(gpt2_base: Path) -> None:
    length = 24
    ids = torch.arange(length)[None] % 50
    as_configured = add_adapters(load_base(gpt2_base, torch.device("cpu"), torch.float32), r=2, alpha=4, dropout=0.05)
    as_configured.train()
    assert any(shape[-2:] == (length, length) for shape in saved_shapes(as_configured, ids))

    model = load_base(gpt2_base, torch.device("cpu"), torch.float32)
    assert set_base_dropout(model, 0.0) == 2 * 3 + 1  # per block: attention, residual, MLP; and the embeddings'
    model = add_adapters(model, r=2, alpha=4, dropout=0.05)
    model.train()
    assert not any(shape[-2:] == (length, length) for shape in saved_shapes(model, ids))
    torch.manual_seed(1)
    first = model(input_ids=ids).logits
    torch.manual_seed(2)
    assert torch.equal(first, model(input_ids=ids).logits)  # nothing random before the adapters learn
    adapter_rates = {m.p for name, m in model.named_modules() if "lora_dropout" in name and isinstance(m, torch.nn.Dropout)}
    assert adapter_rates == {0.05}
    assert model.config.attn_pdrop == 0.1  # what is saved with the model


def test_llama_attention_dropout_is_set_too(tmp_path: Path) -> None:
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=1, attention_dropout=0.1)
    LlamaForCausalLM(config).save_pretrained(tmp_path / "llama")
    model = load_base(tmp_path / "llama", torch.device("cpu"), torch.float32)
    assert set_base_dropout(model, 0.0) == 2
    assert [m.attention_dropout for m in model.modules() if hasattr(m, "attention_dropout")] == [0.0, 0.0]
    assert model.config.attention_dropout == 0.1
