"""scribe's Llama-architecture decode step against transformers' forward pass on tiny random Llama and Qwen2 models,
float32 and int8, and through the backend (stream, chat template, analysis)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tiny_models import CHAT_TEMPLATE, save_tiny_llama  # noqa: E402

from scribe.engine.base import Capability, StreamEnd, TokenStep  # noqa: E402
from scribe.engine.llama_decoder import LlamaDecoder, supports  # noqa: E402
from scribe.engine.transformers_backend import TransformersBackend  # noqa: E402
from scribe.sampling.params import SamplingParams  # noqa: E402


@pytest.fixture(scope="module", params=["llama", "qwen2"])
def folder(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_llama(tmp_path_factory.mktemp(request.param), request.param, chat_template=CHAT_TEMPLATE)


@pytest.fixture(scope="module")
def reference(folder: Path):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(folder).eval()


def test_prefill_and_steps_give_transformers_logits(reference) -> None:
    assert supports(reference)
    decoder = LlamaDecoder(reference)
    ids = torch.randint(0, reference.config.vocab_size, (20,), generator=torch.Generator().manual_seed(1))
    decoder.reserve(32)
    with torch.no_grad():
        full = reference(ids[None]).logits[0]
        assert torch.allclose(decoder.prefill(ids[:12]), full[11], atol=1e-4)
        for i in range(12, 20):
            assert torch.allclose(decoder.step(ids[i : i + 1]), full[i], atol=1e-4)
        decoder.rewind(15)  # back to an earlier position: the same logits again
        assert torch.allclose(decoder.step(ids[15:16]), full[15], atol=1e-4)


def test_fused_projections_share_the_models_weights(folder: Path) -> None:
    """The decoder's query/key/value and gate/up matrices are the model's own weights re-stored side by side, and its
    other projections read the model's own (re-stored) weights: no weight memory is added and the model's forward
    pass gives what it gave before."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    ids = torch.randint(0, model.config.vocab_size, (1, 12), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        before = model(ids).logits
        weights = {name: p.clone() for name, p in model.named_parameters()}
        decoder = LlamaDecoder(model)
        after = model(ids).logits
    assert torch.equal(before, after)
    assert all(torch.equal(weights[name], p) for name, p in model.named_parameters())
    attention, mlp = model.model.layers[1].self_attn, model.model.layers[1].mlp
    layer = decoder.layers[1]
    for fused, parts in ((layer.qkv, (attention.q_proj, attention.k_proj, attention.v_proj)),
                         (layer.gate_up, (mlp.gate_proj, mlp.up_proj))):
        storage = fused.weight.untyped_storage().data_ptr()
        assert all(part.weight.untyped_storage().data_ptr() == storage for part in parts)
        assert fused.weight.shape[1] == sum(part.weight.shape[0] for part in parts)
    for projection, linear in ((layer.o, attention.o_proj), (layer.down, mlp.down_proj), (decoder.lm_head, model.lm_head)):
        assert projection.weight.untyped_storage().data_ptr() == linear.weight.untyped_storage().data_ptr()
    if attention.q_proj.bias is not None:  # Qwen2: the biases are fused alike
        assert attention.k_proj.bias.untyped_storage().data_ptr() == layer.qkv.bias.untyped_storage().data_ptr()


def test_int8_stays_close_to_float32(reference) -> None:
    decoder = LlamaDecoder(reference)
    decoder.quantize_int8()
    ids = torch.randint(0, reference.config.vocab_size, (10,), generator=torch.Generator().manual_seed(2))
    decoder.reserve(16)
    with torch.no_grad():
        full = reference(ids[None]).logits[0]
        logits = decoder.prefill(ids)
    assert torch.nn.functional.cosine_similarity(logits, full[-1], dim=0) > 0.99
    assert int(logits.argmax()) == int(full[-1].argmax())


def test_steps_in_int8_and_bfloat16_stay_close_to_the_model(folder: Path) -> None:
    """One-token steps in int8 stay close to the float32 model, and in bfloat16 (RMSNorm through `F.rms_norm`) to the
    model's own bfloat16 forward pass."""
    from transformers import AutoModelForCausalLM

    ids = torch.randint(0, 250, (14,), generator=torch.Generator().manual_seed(4))
    for dtype, int8 in ((torch.float32, True), (torch.bfloat16, False)):
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype).eval()
        with torch.no_grad():
            full = model(ids[None]).logits[0].float()
            decoder = LlamaDecoder(model)
            if int8:
                decoder.quantize_int8()
            decoder.reserve(16)
            decoder.prefill(ids[:8])
            steps = [decoder.step(ids[i : i + 1]).float() for i in range(8, 14)]
        for i, logits in zip(range(8, 14), steps):
            assert torch.nn.functional.cosine_similarity(logits, full[i], dim=0) > 0.99, (dtype, i)


def test_the_backend_decodes_with_it_and_matches_greedy_generate(folder: Path, reference) -> None:
    backend = TransformersBackend.load(folder, device="cpu", dtype="float32")
    assert type(backend._steps).__name__ == "LlamaDecoder"
    items = list(backend.stream("It was a dark", SamplingParams(temperature=0.0, max_new_tokens=12)))
    end = items[-1]
    assert isinstance(end, StreamEnd) and end.error is None
    tokens = [item.token_id for item in items if isinstance(item, TokenStep)]
    prompt = backend.encode_ids("It was a dark")
    with torch.no_grad():
        expected = reference.generate(torch.tensor([prompt]), max_new_tokens=12, do_sample=False,
                                      eos_token_id=None, pad_token_id=0)[0, len(prompt):].tolist()
    eos = reference.config.eos_token_id
    assert tokens == (expected[: expected.index(eos)] if eos in expected else expected)


def test_chat_goes_through_the_tokenizer_template(folder: Path) -> None:
    backend = TransformersBackend.load(folder, device="cpu", dtype="float32")
    assert backend.supports(Capability.CHAT)
    messages = [{"role": "user", "content": "Shorten: the rain fell."}]
    items = list(backend.chat(messages, SamplingParams(temperature=0.0, max_new_tokens=5)))
    end = items[-1]
    templated = backend._tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert isinstance(end, StreamEnd) and end.error is None and end.prompt_tokens == backend.count_tokens(templated)
