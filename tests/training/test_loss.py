"""The fused output head + cross-entropy and the fused activations compute what transformers' own path computes."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

from scribe.training.loss import NextTokenLoss, fuse_activations, linear_cross_entropy, token_loss


def _gradients(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_linear_cross_entropy_matches_logits_then_cross_entropy(reduction: str) -> None:
    torch.manual_seed(0)
    hidden = torch.randn(11, 8, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(13, 8, dtype=torch.float64, requires_grad=True)
    targets = torch.randint(0, 13, (11,))
    expected = F.cross_entropy(hidden @ weight.t(), targets, reduction=reduction)
    expected_grads = torch.autograd.grad(3.0 * expected, (hidden, weight))
    got = linear_cross_entropy(hidden, weight, targets, reduction=reduction, chunk_rows=4)  # 3 chunks, the last short
    got_grads = torch.autograd.grad(3.0 * got, (hidden, weight))
    torch.testing.assert_close(got, expected)
    for g, e in zip(got_grads, expected_grads):
        torch.testing.assert_close(g, e)
    with torch.no_grad():
        torch.testing.assert_close(linear_cross_entropy(hidden, weight, targets, reduction=reduction, chunk_rows=4),
                                   expected)


def test_linear_cross_entropy_refuses_an_unknown_reduction() -> None:
    with pytest.raises(ValueError, match="reduction"):
        linear_cross_entropy(torch.zeros(2, 3), torch.zeros(4, 3), torch.zeros(2, dtype=torch.long), reduction="none")


def _gpt2() -> GPT2LMHeadModel:
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=97, n_positions=32, n_layer=2, n_head=2, n_embd=16, resid_pdrop=0.0,
                        embd_pdrop=0.0, attn_pdrop=0.0)
    return GPT2LMHeadModel(config)


def _llama() -> LlamaForCausalLM:
    torch.manual_seed(0)
    return LlamaForCausalLM(LlamaConfig(vocab_size=97, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                                        num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=32))


@pytest.mark.parametrize("build", [_gpt2, _llama], ids=["gpt2", "llama"])
def test_token_loss_and_its_gradients_match_the_model_own_loss(build) -> None:  # noqa: ANN001
    block = torch.randint(0, 97, (3, 17), generator=torch.Generator().manual_seed(1))
    model = build()
    expected = model(input_ids=block, labels=block).loss  # transformers' loss: shift, logits, cross-entropy
    expected.backward()
    expected_grads = _gradients(model)
    model.zero_grad(set_to_none=True)
    got = NextTokenLoss(model)(block)
    got.backward()
    got_grads = _gradients(model)
    torch.testing.assert_close(got, expected)
    assert got_grads.keys() == expected_grads.keys()
    for name, grad in got_grads.items():
        torch.testing.assert_close(grad, expected_grads[name], atol=1e-6, rtol=1e-4, msg=name)


def test_fused_activations_leave_the_outputs_and_the_saved_config_unchanged(tmp_path) -> None:  # noqa: ANN001
    model = _gpt2()
    block = torch.randint(0, 97, (2, 9), generator=torch.Generator().manual_seed(2))
    before = model(input_ids=block).logits
    assert fuse_activations(model) == 2
    assert all(isinstance(layer.mlp.act, torch.nn.GELU) for layer in model.transformer.h)
    torch.testing.assert_close(model(input_ids=block).logits, before, atol=1e-5, rtol=1e-5)
    model.save_pretrained(tmp_path)
    reloaded = GPT2LMHeadModel.from_pretrained(tmp_path)
    assert reloaded.config.activation_function == "gelu_new"
    torch.testing.assert_close(reloaded(input_ids=block).logits, before, atol=1e-5, rtol=1e-5)


def test_a_lora_model_takes_the_fused_path_with_a_frozen_head() -> None:
    from scribe.training.lora import add_adapters

    model = _gpt2()
    block = torch.randint(0, 97, (2, 9), generator=torch.Generator().manual_seed(3))
    torch.manual_seed(0)
    adapted = add_adapters(model, r=4, alpha=8, dropout=0.0)
    expected = adapted(input_ids=block, labels=block).loss
    got = token_loss(adapted, block)
    torch.testing.assert_close(got, expected)
    got.backward()
    trained = [name for name, p in adapted.named_parameters() if p.grad is not None]
    assert trained and all("lora" in name for name in trained)
