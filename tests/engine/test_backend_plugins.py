"""A third-party backend in two files (its module and its entry point), found through the `scribe.backends` group and
streamed through the studio with probabilities and the X-ray; and the shared stream loop's contract on it."""

from __future__ import annotations

import textwrap
import threading
from pathlib import Path

import pytest

from scribe.config import Settings
from scribe import backend_plugins
from scribe.engine import registry
from scribe.engine.base import Capability, StreamEnd, TokenStep
from scribe.sampling.params import SamplingParams

TOY_MODULE = '''
"""A toy backend: three "tokens" a, b and space, always scored 2, 1, 0 (probabilities 66.5 %, 24.5 %, 9.0 %)."""
import torch
from scribe.engine.base import Backend, Capability, ModelInfo
from scribe.engine.streaming import sampled_tokens, stream_loop

ALPHABET = "ab "


class Steps:
    calls = 0

    def reserve(self, capacity): pass
    def prefill(self, ids): return self.step(ids)
    def rewind(self, length): pass

    def step(self, token):
        Steps.calls += 1
        return torch.tensor([2.0, 1.0, 0.0])


class ToyBackend(Backend):
    capabilities = frozenset({Capability.LOGITS})

    @classmethod
    def detect(cls, path): return path.suffix == ".toy"

    @classmethod
    def load(cls, path, *, name=None, **_): return cls(name or path.stem)

    def __init__(self, name):
        self.info = ModelInfo(name=name, backend="toy", location=name, context_length=64, vocab_size=3)

    def count_tokens(self, text): return len(text)

    def stream(self, prompt, params, *, alternatives=5, cancel=None):
        decode = lambda ids: "".join(ALPHABET[i] for i in ids)
        ids = [ALPHABET.index(c) for c in prompt if c in ALPHABET] or [2]
        produce = lambda run: sampled_tokens(Steps(), ids, params, run, context_length=64, alternatives=alternatives,
                                             token_text=ALPHABET.__getitem__, decode=decode)
        return stream_loop(produce, decode=decode, stops=params.stop, cancel=cancel)
'''


@pytest.fixture
def toy_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The toy backend installed as a package: its module and a dist-info folder with entry_points.txt."""
    site = tmp_path / "site"
    (site / "toy_scribe_backend-1.0.dist-info").mkdir(parents=True)
    (site / "toy_scribe_backend.py").write_text(TOY_MODULE)
    (site / "toy_scribe_backend-1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: toy-scribe-backend\nVersion: 1.0\n")
    (site / "toy_scribe_backend-1.0.dist-info" / "entry_points.txt").write_text(
        "[scribe.backends]\ntoy = toy_scribe_backend:ToyBackend\n")
    monkeypatch.syspath_prepend(str(site))
    backend_plugins.reload_backends()
    model = tmp_path / "letters.toy"
    model.write_text("")
    yield model
    backend_plugins.reload_backends()


def test_the_plugin_is_found_and_claims_its_files(toy_plugin: Path) -> None:
    assert "toy" in backend_plugins.backend_names()
    assert backend_plugins.backend_names()[0] == "toy", "third-party backends are asked first"
    assert registry.resolve_model(str(toy_plugin)).kind == "toy"
    backend = registry.load_model(str(toy_plugin))
    assert backend.info.backend == "toy" and backend.supports(Capability.LOGITS)
    assert not backend.supports(Capability.CHAT) and "chat" in backend.unavailable(Capability.CHAT)


def test_the_shared_loop_gives_probabilities_stops_and_one_end(toy_plugin: Path) -> None:
    backend = registry.load_model(str(toy_plugin))
    items = list(backend.stream("ab", SamplingParams(temperature=1.0, max_new_tokens=40, seed=3, stop=("b a",))))
    steps, end = items[:-1], items[-1]
    assert isinstance(end, StreamEnd) and all(isinstance(s, TokenStep) for s in steps)
    assert end.reason in ("stop_string", "max_tokens") and "b a" not in end.text
    assert end.text.startswith("".join(s.text for s in steps))
    assert {round(s.raw_prob, 3) for s in steps} <= {0.665, 0.245, 0.090}
    assert [a.text for a in steps[0].alternatives] == ["a", "b", " "]
    assert all(s.elapsed_s >= 0 for s in steps) and end.prompt_tokens == 2


def test_cancelling_stops_within_one_token(toy_plugin: Path) -> None:
    backend = registry.load_model(str(toy_plugin))
    cancel = threading.Event()
    stream = backend.stream("a", SamplingParams(max_new_tokens=50, seed=1), cancel=cancel)
    first = next(stream)
    cancel.set()
    rest = list(stream)
    assert isinstance(first, TokenStep) and len(rest) == 1
    assert isinstance(rest[0], StreamEnd) and rest[0].reason == "cancelled" and rest[0].tokens == 1


def test_an_error_in_the_backend_ends_the_stream_with_the_text_so_far(toy_plugin: Path) -> None:
    import toy_scribe_backend

    backend = registry.load_model(str(toy_plugin))
    original = toy_scribe_backend.Steps.step

    def failing(self, token):  # noqa: ANN001, ANN202
        if toy_scribe_backend.Steps.calls >= 3:
            raise RuntimeError("the toy model broke")
        return original(self, token)

    toy_scribe_backend.Steps.calls = 0
    toy_scribe_backend.Steps.step = failing
    try:
        items = list(backend.stream("a", SamplingParams(temperature=0.0, max_new_tokens=10)))
    finally:
        toy_scribe_backend.Steps.step = original
    end = items[-1]
    assert isinstance(end, StreamEnd) and end.reason == "error" and "the toy model broke" in end.error
    assert end.text == "aaa" and end.tokens == 3, "three steps ran before the fourth failed"


async def test_the_toy_backend_streams_in_the_studio_with_its_probabilities(toy_plugin: Path) -> None:
    from scribe.ui.app import ScribeApp

    settings = Settings(model=str(toy_plugin), device="cpu", dtype="float32", autosave_seconds=3600.0,
                        sampling=SamplingParams(temperature=1.0, max_new_tokens=6, seed=5))
    app = ScribeApp(settings=settings)
    async with app.run_test(size=(110, 32)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.model_state == "ready" and app.status_bar.status.model == "letters.toy"
        await pilot.press(*"ab", "ctrl+j")
        while app.generating:
            await pilot.pause(0.05)
        await app.workers.wait_for_complete()
        await pilot.pause()
        steps = app.stream_view.steps
        assert len(steps) == 6 and app.stream_view.end.reason == "max_tokens"
        last = app.stream_view.query_one("#stream-alternatives").content.plain
        assert f"last {steps[-1].text!r}" in last and "alternatives" in last
        assert {"67%", "24%", "9.0%"} & set(last.split()), last
        await pilot.press("f3")
        await pilot.pause()
        inspector = app.stream_view.query_one("#stream-alternatives").content.plain
        assert "before filters" in inspector and "'a'" in inspector and "'b'" in inspector
        assert "67%" in inspector and "24%" in inspector and "9.0%" in inspector, inspector
        assert textwrap.dedent(inspector).count("kept") == 3


async def test_a_banned_phrase_is_taken_back_and_the_x_ray_says_why(toy_plugin: Path) -> None:
    from scribe.ui.app import ScribeApp

    settings = Settings(model=str(toy_plugin), device="cpu", dtype="float32", autosave_seconds=3600.0,
                        sampling=SamplingParams(temperature=0.0, max_new_tokens=6, banned_phrases=("aa",)))
    app = ScribeApp(settings=settings)
    async with app.run_test(size=(110, 32)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("b", "ctrl+j")
        while app.generating:
            await pilot.pause(0.05)
        await app.workers.wait_for_complete()
        await pilot.pause()
        # every "a" that a second "a" followed was taken back and replaced (greedy alone writes "aaaaaa")
        assert app.stream_view.text == "bbbbba"
        await pilot.press("f3", "left")
        await pilot.pause()
        inspector = app.stream_view.query_one("#stream-alternatives").content.plain
        assert "token 5/6 'b'" in inspector and "removed by banned_phrases" in inspector, inspector
