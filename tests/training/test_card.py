"""Model cards in Hugging Face's format: the front matter huggingface_hub reads back, and no local paths."""

from __future__ import annotations

from pathlib import Path

from huggingface_hub import ModelCard

from scribe.training.card import front_matter, public_name, without_paths


def test_the_front_matter_names_the_library_the_pipeline_and_a_hub_base_and_leaves_the_licence() -> None:
    card = ModelCard(front_matter("transformers", "openai-community/gpt2") + "# my-novel\n")
    assert card.data.library_name == "transformers" and card.data.pipeline_tag == "text-generation"
    assert card.data.base_model == "openai-community/gpt2" and "scribe" in card.data.tags
    assert card.data.license is None
    assert ModelCard(front_matter("keras") + "# chars\n").data.to_dict() == {
        "library_name": "keras", "pipeline_tag": "text-generation", "tags": ["scribe", "own-text"]}


def test_local_paths_become_names_and_hub_ids_stay(tmp_path: Path) -> None:
    (tmp_path / "novel").mkdir()
    (tmp_path / "novel" / "ch1.txt").write_text("text")
    assert public_name(str(tmp_path / "novel")) == "novel" and public_name("openai-community/gpt2") == (
        "openai-community/gpt2")
    command = f"scribe train {tmp_path}/novel/ch1.txt --base openai-community/gpt2 --output ./out/my-novel --lora"
    assert without_paths(command) == "scribe train ch1.txt --base openai-community/gpt2 --output my-novel --lora"
    assert str(tmp_path) not in without_paths(f"scribe train '{tmp_path}/novel/ch1.txt'")
