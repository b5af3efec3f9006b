"""Instruct actions on a chat model with a small context (256 tokens): the answer is capped to what the messages leave
of the context instead of refused, and a passage too long for any answer ends the stream with a one-line message
naming its length, the context and what to do (issue 13 §4)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tiny_models import CHAT_TEMPLATE, save_tiny_llama  # noqa: E402

from scribe.engine.actions import load_actions, run_action  # noqa: E402
from scribe.engine.base import StreamEnd, TokenStep  # noqa: E402
from scribe.engine.streaming import MIN_CHAT_ANSWER, chat_answer_tokens  # noqa: E402
from scribe.engine.transformers_backend import TransformersBackend  # noqa: E402
from scribe.sampling.params import SamplingParams  # noqa: E402

PASSAGE = "The rain fell on the garden, and the old gate creaked in the wind."
CONTEXT = 256


@pytest.fixture(scope="module")
def instruct(tmp_path_factory: pytest.TempPathFactory) -> TransformersBackend:
    """A tiny random Llama with a chat template and a 256-token context, never ending on its own."""
    folder = save_tiny_llama(tmp_path_factory.mktemp("instruct"), "llama", chat_template=CHAT_TEMPLATE, context=CONTEXT)
    backend = TransformersBackend.load(folder, device="cpu", dtype="float32")
    backend._eos = frozenset()  # the answer runs to its token limit, so the test sees where that limit is
    return backend


@pytest.mark.parametrize("name", ["rewrite", "expand", "shorten", "describe"])
def test_the_default_actions_answer_within_what_the_context_leaves(instruct: TransformersBackend, name: str) -> None:
    items = list(run_action(instruct, load_actions()[name], PASSAGE, SamplingParams(temperature=0.0, max_new_tokens=200)))
    end = items[-1]
    assert isinstance(end, StreamEnd) and end.error is None, end.error
    assert end.prompt_tokens + 200 > CONTEXT, "the messages and the asked-for answer do not fit together"
    assert end.tokens == CONTEXT - end.prompt_tokens == sum(isinstance(i, TokenStep) for i in items)
    assert end.reason == "max_tokens"


def test_a_short_answer_asked_for_is_kept(instruct: TransformersBackend) -> None:
    end = list(run_action(instruct, load_actions()["rewrite"], PASSAGE, SamplingParams(temperature=0.0,
                                                                                   max_new_tokens=5)))[-1]
    assert end.error is None and end.tokens == 5


def test_a_passage_too_long_for_an_answer_is_refused_in_one_line(instruct: TransformersBackend) -> None:
    long_passage = " ".join([PASSAGE] * 6)
    items = list(run_action(instruct, load_actions()["rewrite"], long_passage, SamplingParams(max_new_tokens=200)))
    [end] = items
    assert isinstance(end, StreamEnd) and end.reason == "error" and end.tokens == 0
    assert "\n" not in end.error
    assert f"this model's context is {CONTEXT}" in end.error and "select a shorter passage" in end.error
    taken = int(end.error.split(" takes ")[1].split()[0])
    assert taken > CONTEXT - MIN_CHAT_ANSWER


def test_the_answer_limit_is_capped_then_refused() -> None:
    assert chat_answer_tokens(152, context_length=256, max_new_tokens=200) == 104
    assert chat_answer_tokens(100, context_length=256, max_new_tokens=50) == 50
    assert chat_answer_tokens(250, context_length=256, max_new_tokens=4) == 4
    assert chat_answer_tokens(240, context_length=256, max_new_tokens=200) == MIN_CHAT_ANSWER
    with pytest.raises(ValueError, match="takes 241 tokens and this model's context is 256"):
        chat_answer_tokens(241, context_length=256, max_new_tokens=200)
