"""One function builds a training run's settings for `scribe train` and the training screen, and picks the trainer
by one rule: the same choices through either face give the same config, and a planned job really trains."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.app import App

from scribe.cli import build_parser
from scribe.commands.train import plan
from scribe.keras_models.train_config import KerasTrainConfig
from scribe.training.plan import TrainingChoices, default_eval_every, plan_training, trainer_for
from scribe.training.trainer import TrainConfig
from scribe.ui.screens.training import TUI_COMMAND, TrainingScreen


def from_flags(*argv: str):  # noqa: ANN201 - TrainingPlan
    return plan(build_parser().parse_args(["train", *argv]))


@pytest.mark.parametrize(("choices", "trainer"), [
    (TrainingChoices(files=["a.txt"]), "scratch"),
    (TrainingChoices(files=["a.txt"], preset="char"), "scratch"),
    (TrainingChoices(files=["a.txt"], base="gpt2"), "finetune"),
    (TrainingChoices(files=["a.txt"], base="gpt2", lora=True), "lora"),
    (TrainingChoices(files=["a.txt"], arch="char-lstm"), "keras"),
    (TrainingChoices(files=["a.txt"], base="mini-gpt:tiny"), "keras"),
    (TrainingChoices(files=["a.txt"], base="word-lstm", arch="word-lstm"), "keras"),
])
def test_one_rule_picks_the_trainer(choices: TrainingChoices, trainer: str) -> None:
    assert trainer_for(choices) == trainer
    planned = plan_training(choices)
    assert planned.trainer == trainer
    assert isinstance(planned.config, KerasTrainConfig if trainer == "keras" else TrainConfig)
    if trainer != "keras":
        assert planned.config.mode == trainer


def test_the_trainer_decides_which_job_runs() -> None:
    from scribe.keras_models.job import KerasTrainingJob
    from scribe.training.jobs import TrainingJob

    keras = plan_training(TrainingChoices(files=["a.txt"], base="mini-gpt:tiny")).job()
    gpt2 = plan_training(TrainingChoices(files=["a.txt"], base="gpt2", lora=True)).job()
    assert type(keras) is KerasTrainingJob and keras.command(Path("j.json"))[1:3] == ["-m", "scribe.keras_models.job"]
    assert type(gpt2) is TrainingJob and gpt2.command(Path("j.json"))[1:3] == ["-m", "scribe.training.job"]
    assert plan_training(TrainingChoices(files=["a.txt"], processes=2)).job().processes == 2


@pytest.mark.parametrize(("choices", "message"), [
    (TrainingChoices(files=[]), "name the text files to train on"),
    (TrainingChoices(files=["a.txt"], lora=True), "LoRA needs a base model"),
    (TrainingChoices(files=["a.txt"], base="mini-gpt", lora=True), "Keras architectures train from scratch"),
    (TrainingChoices(files=["a.txt"], base="gpt2", arch="char-lstm"), "trains from scratch"),
    (TrainingChoices(files=["a.txt"], base="mini-gpt", arch="char-lstm"), "two architectures"),
    (TrainingChoices(files=["a.txt"], arch="char-lstm", patience=3, holdout=["b.txt"]), "patience, holdout: for the GPT-2"),
    (TrainingChoices(files=["a.txt"], arch="char-lstm", processes=2), "processes: for the GPT-2 trainer only"),
    (TrainingChoices(files=["a.txt"], arch="char-lstm", precision="bfloat16"), "precision: for the GPT-2 trainer only"),
    (TrainingChoices(files=["a.txt"], arch="char-lstm", settings={"lora_dropout": 0.1}), "lora_dropout: not a setting"),
    (TrainingChoices(files=["a.txt"], name="../elsewhere"), "model name '../elsewhere'"),
])
def test_choices_that_do_not_make_sense_are_refused_in_one_line(choices: TrainingChoices, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        plan_training(choices)


def test_the_plan_fills_in_what_was_left_unset(scribe_home: Path) -> None:
    models = scribe_home / "data" / "models"
    scratch = plan_training(TrainingChoices(files=["notes/book.txt"])).config
    assert (scratch.name, scratch.output, scratch.preset, scratch.max_steps, scratch.eval_every) == (
        "book", models / "book", "small", 1000, 250)
    assert (scratch.context, scratch.batch_size, scratch.lr, scratch.warmup_steps) == (256, 32, 1e-3, 100)
    tuned = plan_training(TrainingChoices(files=["book.txt"], base="gpt2", max_steps=40, preset="tiny")).config
    assert (tuned.name, tuned.eval_every, tuned.lr, tuned.preset) == ("book-tuned", 10, 5e-4, "small")
    assert plan_training(TrainingChoices(files=["book.txt"], base="gpt2", lora=True)).config.name == "book-lora"
    keras = plan_training(TrainingChoices(files=["book.txt"], base="char-lstm", max_steps=8)).config
    assert (keras.name, keras.arch, keras.preset, keras.eval_every) == ("book", "char-lstm", "small", 2)
    assert keras.shape.sequence_length == 100 and keras.val_fraction == 0.05  # the preset's, the Keras trainer's
    assert [default_eval_every(n) for n in (1, 4, 300, 1000, 100_000)] == [1, 1, 75, 250, 250]


FORMS = [
    pytest.param({"files": "book.txt", "name": "bk", "max_steps": 40, "context": 64, "batch_size": 4},
                 ["book.txt", "--name", "bk", "--max-steps", "40", "--context", "64", "--batch-size", "4"], id="scratch"),
    pytest.param({"files": "book.txt more/", "base": "gpt2", "max_steps": 300, "context": 128, "batch_size": 8},
                 ["book.txt", "more/", "--base", "gpt2", "--max-steps", "300", "--context", "128", "--batch-size", "8"],
                 id="finetune"),
    pytest.param({"files": "book.txt", "base": "gpt2", "lora": True, "max_steps": 12, "context": 32, "batch_size": 2},
                 ["book.txt", "--base", "gpt2", "--lora", "--max-steps", "12", "--context", "32", "--batch-size", "2"],
                 id="lora"),
    pytest.param({"files": "book.txt", "base": "mini-gpt:tiny", "max_steps": 20, "context": 16, "batch_size": 8},
                 ["book.txt", "--arch", "mini-gpt", "--preset", "tiny", "--max-steps", "20", "--context", "16",
                  "--batch-size", "8"], id="keras"),
]


@pytest.mark.parametrize(("form", "flags"), FORMS)
async def test_the_form_and_the_flags_give_the_same_config(form: dict, flags: list[str]) -> None:
    screen = TrainingScreen(**form)
    app: App = App()
    async with app.run_test(size=(100, 40)) as pilot:
        await app.push_screen(screen)
        await pilot.pause()
        from_form = screen.plan()
    from_cli = from_flags(*flags)
    assert from_form.trainer == from_cli.trainer
    assert from_form.config.command == TUI_COMMAND and from_cli.config.command.startswith("scribe ")
    from_form.config.command = from_cli.config.command = ""
    assert from_form.config.to_json() == from_cli.config.to_json()


def test_a_planned_run_trains_for_real(tiny_model_dir: Path, shakespeare_text: str, tmp_path: Path) -> None:
    from scribe.training.events import Finished

    data = tmp_path / "notes.txt"
    data.write_text(shakespeare_text[:8_000], encoding="utf-8")
    planned = plan_training(TrainingChoices(
        files=[str(data)], base=str(tiny_model_dir), max_steps=2, context=32, batch_size=2, threads=1,
        settings={"eval_tokens": 128, "sample_tokens": 4},
    ))
    assert planned.trainer == "finetune" and planned.config.name == "notes-tuned"
    job = planned.job().start()
    events = list(job.events())
    assert job.wait() == 0, events[-1]
    finished = events[-1]
    assert isinstance(finished, Finished) and finished.steps == 2 and finished.reason == "max_steps"
    assert Path(finished.path) == planned.config.output and (planned.config.output / "config.json").is_file()
