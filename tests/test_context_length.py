"""One place decides a model's context length from what its files say; the model list, the backends, evaluation and
training all read it there, so they agree."""

from __future__ import annotations

from pathlib import Path

import pytest

from scribe.context_length import GGUF_DEFAULT_CONTEXT, gguf_context_length, hf_context_length, keras_context_length


@pytest.mark.parametrize(("config", "length"), [
    ({"n_positions": 1024, "max_position_embeddings": 8}, 1024),  # GPT-2's own name first
    ({"max_position_embeddings": 2048}, 2048),
    ({"n_ctx": 512}, 512),
    ({"seq_length": 4096}, 4096),
    ({"max_sequence_length": 128}, 128),
    ({"n_positions": 0, "max_position_embeddings": True, "n_ctx": "64"}, None),  # nothing usable stated
    ({"model_type": "llava", "text_config": {"max_position_embeddings": 32768}}, 32768),  # a multimodal config
    ({}, None),
])
def test_a_hugging_face_config_file_states_it(config: dict, length: int | None) -> None:
    assert hf_context_length(config) == length


def test_a_loaded_config_states_it_too() -> None:
    from transformers import GPT2Config, LlamaConfig

    assert hf_context_length(GPT2Config(n_positions=64)) == 64
    assert hf_context_length(LlamaConfig(max_position_embeddings=96)) == 96


def test_the_list_the_backend_and_evaluation_agree(random_gpt2, tmp_path: Path) -> None:  # noqa: ANN001
    from scribe.engine.gpt2_light import load_light
    from scribe.engine.transformers_backend import TransformersBackend
    from scribe.store.catalog import describe_folder
    from scribe.training.evaluate import load_for_eval

    folder = random_gpt2(tmp_path / "short", n_layer=1, n_head=1, n_embd=4, n_positions=48)
    assert describe_folder(folder)["context_length"] == 48
    assert TransformersBackend.load(folder, device="cpu").info.context_length == 48
    assert load_light(folder).info.context_length == 48
    model, _, _ = load_for_eval(str(folder), device="cpu")
    assert hf_context_length(model.config) == 48


def test_a_keras_model_states_its_window() -> None:
    assert keras_context_length({"architecture": "char-lstm", "shape": {"sequence_length": 100}}) == 100


def test_a_gguf_file_states_it_in_its_metadata(tmp_path: Path) -> None:
    from gguf import GGUFReader, GGUFWriter

    def write(name: str, context: int | None) -> Path:
        path = tmp_path / name
        writer = GGUFWriter(str(path), "llama")
        if context is not None:
            writer.add_context_length(context)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        return path

    assert gguf_context_length(GGUFReader(write("said.gguf", 4096)).fields) == 4096
    assert gguf_context_length(GGUFReader(write("silent.gguf", None)).fields) is None

    from scribe.engine.gguf_backend import trained_context

    assert trained_context(tmp_path / "silent.gguf") == GGUF_DEFAULT_CONTEXT
    assert trained_context(tmp_path / "said.gguf") == 4096
