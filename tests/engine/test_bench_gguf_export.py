"""The benchmarks' GGUF writer (`bench/gguf_export.py`): llama.cpp reads the GPT-2 and Llama files it writes and
computes transformers' logits from them (f32 to float16 rounding of its cache, q8_0 close), so the llama.cpp benchmarks compare
scribe with llama.cpp on the same model."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

pytest.importorskip("gguf")
pytest.importorskip("llama_cpp")

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from gguf_export import export_gguf  # noqa: E402
from llamacpp_runner import open_llama  # noqa: E402
from tiny_models import save_tiny_llama, save_tokenizer  # noqa: E402

IDS = list(range(10, 40))


@pytest.fixture(scope="module", params=["gpt2", "llama"])
def folder(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp(request.param)
    if request.param == "llama":
        return save_tiny_llama(folder, "llama", hidden=64, vocab_size=320)
    from transformers import GPT2Config, GPT2LMHeadModel

    tokenizer = save_tokenizer(folder)
    torch.manual_seed(0)
    config = GPT2Config(n_layer=2, n_head=2, n_embd=64, vocab_size=320, n_positions=128,
                        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
    GPT2LMHeadModel(config).save_pretrained(folder)
    return folder


def logits(model: Path) -> torch.Tensor:
    import llama_cpp

    llama = open_llama(model, context=128, threads=1)
    try:
        llama.eval(IDS)
        row = llama_cpp.llama_get_logits_ith(llama.ctx, -1)
        return torch.tensor([row[i] for i in range(llama.n_vocab())])
    finally:
        llama.close()


def test_llama_cpp_computes_transformers_logits_from_the_written_files(folder: Path, tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    with torch.no_grad():
        expected = model(torch.tensor([IDS])).logits[0, -1]
    f32 = logits(export_gguf(folder, tmp_path / "f32.gguf", "f32"))
    # llama.cpp keeps keys and values in float16: differences of its rounding, far below a wrong layout's
    torch.testing.assert_close(f32, expected, atol=2e-2 * float(expected.abs().max()), rtol=0)
    assert int(f32.argmax()) == int(expected.argmax())
    q8_path = export_gguf(folder, tmp_path / "q8_0.gguf", "q8_0")
    assert q8_path.stat().st_size < 0.5 * (tmp_path / "f32.gguf").stat().st_size
    q8 = logits(q8_path)
    assert not torch.equal(q8, f32)
    assert torch.corrcoef(torch.stack([q8, expected]))[0, 1] > 0.99


def test_other_architectures_and_types_are_refused(folder: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="qtype"):
        export_gguf(folder, tmp_path / "x.gguf", "q4_0")
