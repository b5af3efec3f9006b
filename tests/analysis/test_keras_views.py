"""The attention and distribution views on a Keras mini-GPT served by its worker process (built and saved untrained:
the weights do not matter). That an LSTM has no attention, and says so, is checked in test_keras_pass.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from scribe.config import Settings
from scribe.sampling.params import SamplingParams
from scribe.ui.app import ScribeApp
from scribe.ui.screens.attention import AttentionScreen
from scribe.ui.screens.distribution import DistributionScreen

pytest.importorskip("keras")

TEXT = "the king is dead and the queen is in the tower of the old town by the sea"


def save_untrained(folder: Path, arch: str) -> Path:
    from scribe.keras_models.architectures import architecture, build_model, preset
    from scribe.keras_models.saved import save_folder
    from scribe.keras_models.vocab import char_vocab, word_vocab

    shape = preset(arch, "tiny")
    vocab = word_vocab([TEXT], shape.max_tokens) if architecture(arch).tokens == "word" else char_vocab([TEXT])
    model = build_model(arch, shape, len(vocab))
    save_folder(folder, model, vocab, {"architecture": arch, "preset": "tiny", "shape": shape.to_dict()},
                lambda tmp: None)
    return folder


async def settle(app: ScribeApp, pilot):
    screen = app.screen
    for _ in range(600):
        await app.workers.wait_for_complete()
        await pilot.pause(0.05)
        if screen.message is None and screen.detail is not None or screen.message and "analysing" not in screen.message:
            return screen
    raise AssertionError("the view never settled")


async def ready(app: ScribeApp, pilot, model: Path) -> None:
    for _ in range(1200):
        await app.workers.wait_for_complete()
        await pilot.pause(0.05)
        if app.model_state == "ready" and app.backend is not None and app.backend.info.location == str(model):
            return
    raise AssertionError(f"{model} did not load: {app.model_state}")


async def test_keras_transformer_attention_and_distribution(tmp_path: Path) -> None:
    gpt = save_untrained(tmp_path / "mini-gpt", "mini-gpt")
    settings = Settings(model=str(gpt), device="cpu", dtype="float32", autosave_seconds=3600.0,
                        sampling=SamplingParams(max_new_tokens=4, seed=1, top_k=3, temperature=1.0))
    app = ScribeApp(settings=settings)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app, pilot, gpt)
        app.editor.load_text(TEXT)
        app.editor.move_cursor(app.editor.document.end)
        await pilot.press("f6")
        screen = await settle(app, pilot)
        assert isinstance(screen, AttentionScreen) and screen.message is None
        row = screen.row
        assert row.layer_names == ("hidden/attention",) and row.heads == 2 and row.tokens[-1] == "sea"
        assert len(row.tokens) == 16  # the model's window
        assert sum(row.row(0, None)) == pytest.approx(1.0, abs=1e-4)
        await pilot.press("escape", "f7")
        screen = await settle(app, pilot)
        assert isinstance(screen, DistributionScreen) and screen.message is None
        dist = screen.detail
        assert [cut.kept for cut in dist.cuts] == [3] and dist.after == "sea"
        assert len(dist.candidates) == dist.vocab - 2  # padding and [UNK] are never generated, so not listed
        await pilot.press("escape")
