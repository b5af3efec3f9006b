"""Training's dropout with masks drawn 16 bits at a time: the rate it keeps, the scale, the backward pass, eval mode,
and attention that gives what transformers' sdpa attention gives (with its masks) while drawing its dropout so."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from scribe.training.attention import NAME, attention_with_fast_dropout
from scribe.training.dropout import FastDropout, faster_dropouts, keep_mask


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_each_element_is_kept_with_probability_one_minus_p(p: float) -> None:
    torch.manual_seed(0)
    keep = keep_mask(torch.Size([1000, 1001]), p, torch.device("cpu"))
    assert keep.shape == (1000, 1001) and keep.dtype == torch.bool
    assert keep.float().mean().item() == pytest.approx(1 - p, abs=0.002)
    assert keep.view(-1, 4).float().mean(0).sub(1 - p).abs().max() < 0.004  # every 16-bit lane alike
    torch.manual_seed(0)
    assert torch.equal(keep, keep_mask(torch.Size([1000, 1001]), p, torch.device("cpu")))  # the seed decides


def test_fast_dropout_scales_what_it_keeps_and_passes_gradients_through_the_same_mask() -> None:
    dropout = FastDropout(0.25)
    x = torch.rand(64, 256) + 1.0
    x.requires_grad_(True)
    out = dropout(x)
    kept = out != 0
    assert 0.7 < kept.float().mean().item() < 0.8
    assert torch.allclose(out[kept], x.detach()[kept] / 0.75)
    out.sum().backward()
    assert torch.equal(x.grad != 0, kept) and torch.allclose(x.grad[kept], torch.full_like(x.grad[kept], 1 / 0.75))
    dropout.eval()
    assert dropout(x) is x


@pytest.fixture
def gpt2(tmp_path: Path, random_gpt2) -> Path:  # noqa: ANN001
    return random_gpt2(tmp_path / "gpt2", n_layer=2, n_head=2, n_embd=16, n_positions=64, attn_pdrop=1e-9,
                       resid_pdrop=1e-9, embd_pdrop=1e-9)


def test_a_model_with_fast_dropout_computes_what_it_computed(gpt2: Path) -> None:
    from transformers import AutoModelForCausalLM

    plain = AutoModelForCausalLM.from_pretrained(gpt2, attn_implementation="sdpa").train()
    fast = AutoModelForCausalLM.from_pretrained(gpt2, attn_implementation="sdpa").train()
    assert faster_dropouts(fast) == 2 * 3 + 1
    assert attention_with_fast_dropout(fast) and fast.config._attn_implementation == NAME
    ids = torch.arange(40).view(2, 20) % 50
    padded = torch.ones(2, 20, dtype=torch.long)
    padded[1, :5] = 0  # the second row starts with five padding positions
    for mask in (None, padded):  # a rate of 1e-9 keeps everything: the same sums in another order
        assert torch.allclose(plain(input_ids=ids, attention_mask=mask).logits,
                              fast(input_ids=ids, attention_mask=mask).logits, atol=1e-5)
    fast.save_pretrained(gpt2.parent / "saved")
    assert NAME not in (gpt2.parent / "saved" / "config.json").read_text()


def test_grouped_query_attention_with_fast_dropout(tmp_path: Path) -> None:
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, attention_dropout=1e-9,
                         attn_implementation="sdpa")
    torch.manual_seed(0)
    plain = LlamaForCausalLM(config).train()
    fast = LlamaForCausalLM(config).train()
    fast.load_state_dict(plain.state_dict())
    assert attention_with_fast_dropout(fast)
    ids = torch.arange(30)[None] % 64
    assert torch.allclose(plain(input_ids=ids).logits, fast(input_ids=ids).logits, atol=1e-5)
    for model in (plain, fast):  # with real dropout the two draw differently, but each keeps ~90 % of the weights
        for layer in model.model.layers:
            layer.self_attn.attention_dropout = 0.1
    torch.manual_seed(1)
    assert not torch.allclose(fast(input_ids=ids).logits, plain(input_ids=ids).logits, atol=1e-3)


def test_only_sdpa_models_switch(tmp_path: Path, random_gpt2) -> None:  # noqa: ANN001
    from transformers import AutoModelForCausalLM

    folder = random_gpt2(tmp_path / "eager", n_layer=1, n_head=1, n_embd=8, n_positions=32)
    eager = AutoModelForCausalLM.from_pretrained(folder, attn_implementation="eager")
    assert not attention_with_fast_dropout(eager) and eager.config._attn_implementation == "eager"
    assert json.loads((folder / "config.json").read_text()).get("_attn_implementation") is None
