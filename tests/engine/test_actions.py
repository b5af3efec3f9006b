"""Instruct actions: editable TOML templates in the config directory, run through a tiny instruct model's chat
template, refused with the reason on a base model."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tiny_models import CHAT_TEMPLATE, save_tiny_llama  # noqa: E402

from scribe.engine.actions import ActionError, actions_file, load_actions, run_action, unavailable_reason  # noqa: E402
from scribe.engine.base import StreamEnd, TokenStep  # noqa: E402
from scribe.engine.transformers_backend import TransformersBackend  # noqa: E402
from scribe.sampling.params import SamplingParams  # noqa: E402

PASSAGE = "The rain fell on the garden."


@pytest.fixture(scope="module")
def instruct(tmp_path_factory: pytest.TempPathFactory) -> TransformersBackend:
    folder = save_tiny_llama(tmp_path_factory.mktemp("instruct"), "llama", chat_template=CHAT_TEMPLATE)
    return TransformersBackend.load(folder, device="cpu", dtype="float32")


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> TransformersBackend:
    folder = save_tiny_llama(tmp_path_factory.mktemp("base"), "llama")
    return TransformersBackend.load(folder, device="cpu", dtype="float32")


def test_the_templates_file_is_written_once_in_the_config_directory(scribe_home: Path) -> None:
    path = actions_file()
    assert not path.exists()
    actions = load_actions()
    assert path.is_file() and path.is_relative_to(scribe_home)
    assert {"rewrite", "expand", "shorten", "describe", "custom"} <= set(actions)
    path.write_text(path.read_text().replace("about half its length", "one sentence"))
    assert "one sentence" in load_actions()["shorten"].user, "the writer's edit is used and kept"


def test_an_action_streams_through_the_chat_template(instruct: TransformersBackend) -> None:
    shorten = load_actions()["shorten"]
    items = list(run_action(instruct, shorten, PASSAGE, SamplingParams(temperature=0.0, max_new_tokens=6)))
    end = items[-1]
    assert isinstance(end, StreamEnd) and end.error is None and all(isinstance(i, TokenStep) for i in items[:-1])
    messages = shorten.messages(PASSAGE)
    rendered = instruct._tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert PASSAGE in rendered and rendered.endswith("<|assistant|>")
    assert end.prompt_tokens == instruct.count_tokens(rendered)


def test_a_base_model_is_refused_with_the_reason(base: TransformersBackend) -> None:
    reason = unavailable_reason(base)
    assert reason is not None and "chat template" in reason
    with pytest.raises(ActionError, match="chat template"):
        run_action(base, load_actions()["rewrite"], PASSAGE, SamplingParams())


def test_the_custom_action_needs_an_instruction(instruct: TransformersBackend) -> None:
    custom = load_actions()["custom"]
    with pytest.raises(ActionError, match="instruction"):
        run_action(instruct, custom, PASSAGE, SamplingParams())
    assert custom.messages(PASSAGE, instruction="Make it sad.")[-1]["content"].startswith("Make it sad.")


@pytest.mark.parametrize("text, message", [
    ("[shorten\n", "cannot read"),
    ("[shorten]\nlabel = 'x'\n", "needs a `user` template"),
    ("[shorten]\nuser = '{passage}'\n", "unknown placeholder {passage}"),
    ("[shorten]\nuser = '{selection}'\ntemperature = 99\n", "temperature"),
])
def test_bad_templates_are_one_line_errors_naming_the_file(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "actions.toml"
    path.write_text(text)
    with pytest.raises(ActionError, match=message) as caught:
        load_actions(path)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)
    assert path.read_text() == text, "the writer's file is never overwritten"
