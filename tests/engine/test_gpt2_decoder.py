"""scribe's own GPT-2 decode step and the int8 mode, checked against transformers on real tiny models."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from scribe.engine.base import ModelLoadError, StreamEnd, TokenStep
from scribe.engine.gpt2_decoder import GPT2Decoder, supports
from scribe.engine.transformers_backend import TransformersBackend, TransformersSteps, pick_dtype
from scribe.sampling.params import SamplingParams

PROMPT = "The old lighthouse keeper looked at the sea and"


def stream(backend: TransformersBackend, params: SamplingParams, prompt: str = PROMPT) -> tuple[list[TokenStep], StreamEnd]:
    events = list(backend.stream(prompt, params, alternatives=5))
    assert isinstance(events[-1], StreamEnd) and events[-1].error is None, events[-1]
    return events[:-1], events[-1]  # type: ignore[return-value]


def reference_logits(model, ids: list[int]) -> torch.Tensor:
    """transformers' full forward pass: the next-token logits after every prefix of `ids`."""
    with torch.inference_mode():
        return model(input_ids=torch.tensor([ids])).logits[0]


@pytest.fixture(scope="module")
def hf_backend(sharp_hf_model, sharp_backend: TransformersBackend) -> TransformersBackend:
    """The sharp model decoded by transformers' forward pass instead of scribe's step."""
    return TransformersBackend(sharp_hf_model, sharp_backend._tokenizer, sharp_backend.info, decoder="transformers")


def test_the_backend_uses_its_own_step_for_gpt2(sharp_backend: TransformersBackend, hf_backend) -> None:
    assert isinstance(sharp_backend._steps, GPT2Decoder)
    assert isinstance(hf_backend._steps, TransformersSteps)


def test_prefill_and_steps_match_a_full_forward_pass(sharp_hf_model) -> None:
    ids = [464, 168, 973, 1009, 314, 379, 262, 517, 290, 11, 286, 262]  # token ids below the tiny vocabulary's 1,024
    expected = reference_logits(sharp_hf_model, ids)
    decoder = GPT2Decoder(sharp_hf_model)
    with torch.inference_mode():
        decoder.reserve(len(ids))
        got = [decoder.prefill(torch.tensor(ids[:5]))]
        got += [decoder.step(torch.tensor([token])) for token in ids[5:]]
    torch.testing.assert_close(torch.stack(got), expected[4:], atol=1e-4, rtol=1e-4)
    assert decoder.length == len(ids)
    with torch.inference_mode(), pytest.raises(ValueError, match="full"):
        decoder.step(torch.tensor([1]))
    with torch.inference_mode():
        torch.testing.assert_close(decoder.score(torch.tensor(ids)), expected, atol=1e-4, rtol=1e-4)


def test_the_graph_step_with_a_mask_matches_the_plain_step(sharp_hf_model) -> None:
    """`step_masked` is what a CUDA graph captures; on the CPU it must compute what `step` does (to float rounding:
    the masked window and the exact prefix are summed in different orders)."""
    ids = [464, 168, 973, 1009, 314, 379, 262]
    plain, masked = GPT2Decoder(sharp_hf_model), GPT2Decoder(sharp_hf_model)
    with torch.inference_mode():
        for decoder in (plain, masked):
            decoder.reserve(32)
            decoder.prefill(torch.tensor(ids[:3]))
        for position, token in enumerate(ids[3:], start=3):
            expected = plain.step(torch.tensor([token]))
            got = masked.step_masked(torch.tensor([token]), torch.tensor([position]), 16)
            torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)


def test_own_step_gives_the_same_tokens_and_probabilities_as_transformers(float32_cache_backend, hf_backend) -> None:
    params = SamplingParams(temperature=0.9, top_k=40, top_p=0.95, repetition_penalty=1.2, max_new_tokens=24, seed=7)
    own_steps, own_end = stream(float32_cache_backend, params)
    hf_steps, hf_end = stream(hf_backend, params)
    assert [s.token_id for s in own_steps] == [s.token_id for s in hf_steps]
    assert own_end.text == hf_end.text
    for own, hf in zip(own_steps, hf_steps):
        assert own.raw_prob == pytest.approx(hf.raw_prob, rel=1e-4, abs=1e-6)
        assert own.final_prob == pytest.approx(hf.final_prob, rel=1e-4, abs=1e-6)
        assert [a.token_id for a in own.alternatives] == [a.token_id for a in hf.alternatives]


def test_the_cache_is_reused_and_reset_between_streams(sharp_backend: TransformersBackend) -> None:
    long_run, _ = stream(sharp_backend, SamplingParams(temperature=0.0, max_new_tokens=30))
    short_run, _ = stream(sharp_backend, SamplingParams(temperature=0.0, max_new_tokens=10))
    assert [s.token_id for s in short_run] == [s.token_id for s in long_run[:10]]


def test_int8_loads_and_stays_close_to_float32(
    sharp_model_dir: Path, sharp_backend: TransformersBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    int8 = TransformersBackend.load(sharp_model_dir, name="sharp-int8", device="cpu", dtype="int8")
    assert int8.info.dtype == "int8"
    assert isinstance(int8._steps, GPT2Decoder) and int8._steps.quantized
    threads = torch.get_num_threads()
    steps, end = stream(int8, SamplingParams(temperature=0.8, max_new_tokens=16, seed=3))
    assert end.tokens == len(steps) > 0
    assert torch.get_num_threads() == threads, "the steps give the thread count back"
    monkeypatch.setenv("SCRIBE_THREADS", "1")
    chosen = TransformersBackend.load(sharp_model_dir, name="sharp-int8", device="cpu", dtype="int8")
    torch.set_num_threads(threads)
    assert chosen._step_threads.fixed == 1, "SCRIBE_THREADS is the writer's choice and wins"
    ids = torch.tensor(sharp_backend._encode(PROMPT))
    with torch.inference_mode():
        for backend in (sharp_backend, int8):
            backend._steps.reserve(ids.numel())
        full = sharp_backend._steps.prefill(ids)
        quantized = int8._steps.prefill(ids)
    correlation = torch.corrcoef(torch.stack([full, quantized]))[0, 1]
    assert correlation > 0.99
    assert not torch.equal(full, quantized)


@pytest.fixture(scope="module")
def tiny_llama_dir(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Path:
    """A seeded random Llama (not GPT-2: decoded by transformers' forward pass) with the tiny GPT-2 tokenizer."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    folder = tmp_path_factory.mktemp("tiny-llama")
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=64,
                         bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id,
                         initializer_range=0.5)
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_other_architectures_decode_with_transformers_and_match_generate(tiny_llama_dir: Path) -> None:
    from transformers import AutoModelForCausalLM

    loaded = TransformersBackend.load(tiny_llama_dir, device="cpu")  # a Llama: scribe's Llama step by default
    model = AutoModelForCausalLM.from_pretrained(tiny_llama_dir).eval()
    backend = TransformersBackend(model, loaded._tokenizer, loaded.info, decoder="transformers")
    assert not supports(backend._model) and isinstance(backend._steps, TransformersSteps)
    steps, _ = stream(backend, SamplingParams(temperature=0.0, max_new_tokens=12))
    model = AutoModelForCausalLM.from_pretrained(tiny_llama_dir).eval()
    prompt = torch.tensor([backend._encode(PROMPT)])
    with torch.inference_mode():
        expected = model.generate(prompt, do_sample=False, max_new_tokens=12, min_new_tokens=12,
                                  pad_token_id=model.config.eos_token_id)
    assert [s.token_id for s in steps] == expected[0, prompt.shape[1] :].tolist()[: len(steps)]


def test_int8_for_other_architectures_quantises_linear_layers(tiny_llama_dir: Path) -> None:
    from transformers import AutoModelForCausalLM

    loaded = TransformersBackend.load(tiny_llama_dir, device="cpu", dtype="int8")
    assert loaded.info.dtype == "int8" and loaded._steps.quantized, "a Llama: scribe's Llama step in int8"
    model = AutoModelForCausalLM.from_pretrained(tiny_llama_dir).eval()
    backend = TransformersBackend(model, loaded._tokenizer, loaded.info, decoder="transformers", int8=True)
    assert not any(type(m) is torch.nn.Linear for m in backend._model.modules())
    steps, end = stream(backend, SamplingParams(temperature=0.8, max_new_tokens=8, seed=1))
    assert end.tokens == len(steps) > 0


def test_int8_is_refused_off_the_cpu() -> None:
    with pytest.raises(ModelLoadError, match="CPU mode"):
        pick_dtype("int8", torch.device("cuda"))
    assert pick_dtype("int8", torch.device("cpu")) == torch.float32


def test_the_decoder_restores_weights_in_place_and_the_model_computes_as_before(sharp_model_dir: Path) -> None:
    """The decoder re-stores the model's weights in fresh memory, the output head input-major (what a one-row product
    reads fastest when the output is wider): the same values, no second copy of the tied embedding, and the model's
    own forward pass gives what it gave before."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(sharp_model_dir).eval()
    ids = torch.tensor([[464, 168, 973, 1009, 314, 379, 262, 517]])
    with torch.no_grad():
        before = model(ids).logits
        weights = {name: p.clone() for name, p in model.named_parameters()}
        decoder = GPT2Decoder(model)
        after = model(ids).logits
    torch.testing.assert_close(after, before, atol=1e-5, rtol=1e-5)
    assert all(torch.equal(weights[name], p) for name, p in model.named_parameters())
    head = decoder.lm_head.weight
    assert head.shape == (model.config.n_embd, model.config.vocab_size) and head.stride() == (model.config.vocab_size, 1)
    assert head.untyped_storage().data_ptr() == model.transformer.wte.weight.untyped_storage().data_ptr()
    mlp_out = decoder.layers[0].mlp_proj.weight  # 4 x wider input than output: stored [out, in]
    assert mlp_out.stride() == (1, mlp_out.shape[0])
