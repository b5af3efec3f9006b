"""The TUI's training screen with a real job: the loss curve, samples and the base-versus-fine-tuned perplexity."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from textual.app import App
from textual.widgets import RichLog, Static

from scribe.config import Settings
from scribe.training.events import Started
from scribe.ui.screens.training import TrainingEvent, TrainingScreen


class Host(App[None]):
    def __init__(self, screen: TrainingScreen) -> None:
        super().__init__()
        self.training = screen
        self.results: list[str | None] = []

    def on_mount(self) -> None:
        self.push_screen(self.training, self.results.append)


async def test_a_fine_tuning_job_is_followed_to_the_end(shakespeare_text: str, tiny_model_dir: Path, tmp_path: Path,
                                                        scribe_home: Path) -> None:
    from scribe.store.catalog import list_models

    data = tmp_path / "notes.txt"
    data.write_text(shakespeare_text[:20_000])
    screen = TrainingScreen(files=str(data), base=str(tiny_model_dir), name="notes-tuned",
                            max_steps=4, context=32, batch_size=4,
                            extra={"sample_tokens": 6, "eval_tokens": 256, "threads": 1})
    app = Host(screen)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.click("#start")
        assert screen.running and screen.query_one("#cancel").disabled is False
        await app.workers.wait_for_complete()
        await pilot.pause()

        finished = screen.curve.finished
        assert finished is not None and finished.reason == "max_steps" and finished.steps == 4
        assert [step for step, _ in screen.curve.val] == [0, 1, 2, 3, 4] and len(screen.curve.train) >= 1
        assert screen.curve.base_perplexity == finished.base_perplexity
        assert len(screen.query_one("#sample-log", RichLog).lines) >= 4 * 3  # 3 temperatures at each evaluation
        result = str(screen.query_one("#result", Static).render())
        assert f"base model {finished.base_perplexity:.2f} -> fine-tuned {finished.perplexity:.2f}" in result
        assert str(scribe_home / "data" / "models" / "notes-tuned") in result
        assert not screen.running and screen.query_one("#start").disabled is False
        assert "notes-tuned" in {e.name for e in list_models(offered=False) if e.usable}

        await pilot.click("#use")
        await pilot.pause()
        assert app.screen is not screen and app.results == [finished.path]


async def test_the_start_of_a_run_says_how_each_step_is_split(tmp_path: Path) -> None:
    screen = TrainingScreen(files="", name="x")
    app = Host(screen)
    started = Started(output=str(tmp_path / "x"), preset="", parameters=1_179_648, vocab_size=50257, context=128,
                      batch_size=8, documents=1, train_tokens=265_923, val_tokens=31_374, max_steps=2,
                      max_minutes=None, mode="lora", base="gpt2", micro_batches=8)
    async with app.run_test(size=(160, 40)) as pilot:
        screen.post_message(TrainingEvent(started))
        await pilot.pause()
        shown = str(screen.query_one("#stats", Static).render())
        assert shown == ("training gpt2 (lora): 1,179,648 trainable parameters, 265,923 tokens (+31,374 validation) "
                         "from 1 file(s); each step in 8 micro-batches")
        screen.post_message(TrainingEvent(replace(started, micro_batches=1)))
        await pilot.pause()
        assert "micro-batches" not in str(screen.query_one("#stats", Static).render())


async def test_bad_settings_are_shown_not_started(tmp_path: Path) -> None:
    screen = TrainingScreen(files="", name="x")
    app = Host(screen)
    async with app.run_test() as pilot:
        await pilot.click("#start")
        await pilot.pause()
        assert not screen.running
        assert [n.message for n in app._notifications] == ["name the text files to train on"]
        screen.query_one("#files").value = str(tmp_path / "a.txt")
        screen.query_one("#lora").value = True
        screen.query_one("#files").focus()
        await pilot.press("enter")  # enter in a field starts too
        await pilot.pause()
        assert not screen.running and "LoRA needs a base model: name the model to adapt" in [n.message for n in app._notifications]


async def test_the_studio_opens_the_training_screen_and_writes_with_the_result(tiny_model_dir: Path,
                                                                              tmp_path: Path) -> None:
    import shutil

    from scribe.training.events import Finished
    from scribe.ui.app import ScribeApp
    from scribe.ui.screens.training import TrainingEvent

    settings = Settings(model=str(tiny_model_dir), device="cpu", dtype="float32",
                        autosave_seconds=3600.0)
    trained = tmp_path / "trained"
    shutil.copytree(tiny_model_dir, trained)
    app = ScribeApp(settings=settings)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("f10")
        assert isinstance(app.screen, TrainingScreen)
        await pilot.press("escape")  # nothing runs: escape closes it, the model stays
        assert not isinstance(app.screen, TrainingScreen) and app.settings.model == settings.model

        await pilot.press("f10")
        screen = app.screen
        assert isinstance(screen, TrainingScreen) and screen.query_one("#use").disabled
        screen.post_message(TrainingEvent(Finished(reason="max_steps", steps=4, tokens=512, elapsed_s=1.0, val_loss=3.0,
                                                   perplexity=20.09, bits_per_char=1.2, path=str(trained))))
        await pilot.pause()
        await pilot.click("#use")
        await pilot.pause()
        assert not isinstance(app.screen, TrainingScreen) and app.settings.model == str(trained)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.backend is not None and app.backend.info.name == "trained"
