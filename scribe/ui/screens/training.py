"""The training screen (f10, alt+m): fine-tune a model on the writer's files, or train one from scratch, and watch it.

The writer names files (paths or globs), a base model (empty: a GPT-2 model from scratch; a Keras architecture such
as `char-lstm` or `mini-gpt:tiny` trains that from scratch), LoRA or full fine-tuning, a name and a step budget, then
starts. `scribe.training.plan` turns the form into the run's settings and picks the trainer, by the same rule as
`scribe train`. The job runs in its own process (scribe.training.jobs); a thread worker follows its events and posts
them here. The screen draws the training and validation loss as they come (textual-plotext), shows tokens per second,
the ETA and a progress bar, lists the samples generated at several temperatures at each evaluation, and at the end
shows the base model's perplexity against the fine-tuned one on the validation split. Escape cancels a running job
(it checkpoints and saves first); when nothing runs, Escape closes the screen. The saved model is in the models folder,
so the model list has it at once; "Use in the studio" closes the screen and switches the studio to it.

| id               | keys        | what it does                                          |
|------------------|-------------|-------------------------------------------------------|
| `training`       | f10, alt+m  | open the training screen (from the studio)            |
| `training_close` | escape      | cancel the running job, or close the screen           |

The opening key and action live in scribe.ui.screens.open_training, so the app imports this module only when used.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Checkbox, Footer, Input, Label, ProgressBar, RichLog, Static
from textual_plotext import PlotextPlot

from scribe.durations import format_duration
from scribe.training.events import Checkpoint, Error, Eval, Event, Finished, Sample, Saved, Started, Step
from scribe.ui.keys import TRAINING_SCREEN_BINDINGS

TUI_COMMAND = "scribe tui (training screen)"
"""How a run started here is named in its model card."""


class TrainingEvent(Message):
    """A progress event from the training job."""

    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event


@dataclass
class Curve:
    """What the screen has seen of a run."""

    train: list[tuple[int, float]] = field(default_factory=list)
    val: list[tuple[int, float]] = field(default_factory=list)
    max_steps: int = 0
    base_perplexity: float | None = None
    finished: Finished | None = None
    error: str | None = None


class TrainingScreen(Screen["str | None"]):
    """Start a training job and follow it. Dismissed with the trained model's folder when the writer chooses to
    write with it ("Use in the studio"), else None."""

    DEFAULT_CSS = """
    TrainingScreen #form { height: auto; padding: 0 1; }
    TrainingScreen .row { height: 3; }
    TrainingScreen .row Label { width: 14; padding: 1 1 0 0; text-align: right; }
    TrainingScreen .row Input { width: 1fr; }
    TrainingScreen .row Label.short { width: 9; }
    TrainingScreen .row Input.short { width: 10; }
    TrainingScreen #buttons { height: 3; padding-left: 14; }
    TrainingScreen #cancel, TrainingScreen #use { margin-left: 2; }
    TrainingScreen #stats { height: auto; padding: 0 1; }
    TrainingScreen #progress { padding: 0 1; }
    TrainingScreen #body { height: 1fr; }
    TrainingScreen #curve { width: 2fr; min-height: 10; }
    TrainingScreen #sample-log { width: 1fr; border-left: solid $primary; }
    TrainingScreen #result { height: auto; padding: 0 1; color: $success; }
    """
    BINDINGS = TRAINING_SCREEN_BINDINGS

    def __init__(self, *, files: str = "", base: str = "", name: str = "", lora: bool = False, max_steps: int = 300,
                 context: int = 128, batch_size: int = 8, extra: dict[str, object] | None = None) -> None:
        """The form starts with these values; `extra` holds settings of the trainer's config that the form does not
        show (TrainingChoices.settings)."""
        super().__init__()
        self.extra = dict(extra or {})
        self.defaults = {"files": files, "base": base, "name": name, "max_steps": str(max_steps),
                         "context": str(context), "batch_size": str(batch_size)}
        self.lora_default = lora
        self.job = None
        self.curve = Curve()

    def compose(self) -> ComposeResult:
        d = self.defaults
        with Vertical(id="form"):
            with Horizontal(classes="row"):
                yield Label("files")
                yield Input(d["files"], placeholder="text files, folders or globs (quote names with spaces)", id="files")
            with Horizontal(classes="row"):
                yield Label("base model")
                yield Input(d["base"], placeholder="empty: train from scratch", id="base")
                yield Checkbox("LoRA", self.lora_default, id="lora")
            with Horizontal(classes="row"):
                yield Label("name")
                yield Input(d["name"], placeholder="the new model's name", id="name")
                yield Label("steps", classes="short")
                yield Input(d["max_steps"], type="integer", classes="short", id="max_steps")
                yield Label("context", classes="short")
                yield Input(d["context"], type="integer", classes="short", id="context")
                yield Label("batch", classes="short")
                yield Input(d["batch_size"], type="integer", classes="short", id="batch_size")
            with Horizontal(id="buttons"):
                yield Button("Start", variant="primary", id="start")
                yield Button("Cancel", variant="error", id="cancel", disabled=True)
                yield Button("Use in the studio", variant="success", id="use", disabled=True)
        yield Static("", id="stats")
        yield ProgressBar(id="progress", show_eta=False)
        with Horizontal(id="body"):
            yield PlotextPlot(id="curve")
            yield RichLog(id="sample-log", wrap=True, markup=False, min_width=20)
        yield Static("", id="result")
        yield Footer()

    def on_mount(self) -> None:
        self._draw()
        self.query_one("#files", Input).focus()

    # --- starting and stopping

    @property
    def running(self) -> bool:
        return self.job is not None

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "start":
            self.start()
        elif event.button.id == "cancel":
            self.cancel()
        elif event.button.id == "use" and self.curve.finished is not None:
            self.dismiss(self.curve.finished.path)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.start()

    def plan(self):  # noqa: ANN201 - TrainingPlan
        """The run the form describes (ValueError, one line, when the settings do not make sense)."""
        from scribe.training.plan import TrainingChoices, plan_training

        value = {w.id: w.value.strip() for w in self.query(Input)}
        return plan_training(TrainingChoices(
            files=shlex.split(value["files"]), base=value["base"] or None, lora=self.query_one("#lora", Checkbox).value,
            name=value["name"] or None, max_steps=_number(value["max_steps"]), context=_number(value["context"]),
            batch_size=_number(value["batch_size"]), command=TUI_COMMAND, settings=self.extra,
        ))

    def start(self) -> None:
        """Start a job with the form's settings (one at a time)."""
        if self.running:
            return
        try:
            plan = self.plan()
        except ValueError as exc:
            self.notify(str(exc), title="Cannot start training", severity="error", markup=False)
            return
        config = plan.config
        if config.output.exists():
            self.notify(f"a model called {config.name} exists already: choose another name", severity="error",
                        markup=False)
            return
        self.curve = Curve(max_steps=config.max_steps)
        self.query_one("#sample-log", RichLog).clear()
        self.query_one("#result", Static).update("")
        self.job = plan.job()
        self._set_running(True)
        self._stats(f"starting: reading {len(config.data)} path(s)...")
        self._follow(self.job)

    def cancel(self) -> None:
        """Ask the running job to stop; it checkpoints and saves what it has first."""
        if self.job is not None:
            self.job.cancel()
            self._stats("cancelling: writing a checkpoint and saving the model...")

    def action_close(self) -> None:
        if self.running:
            self.cancel()
        else:
            self.dismiss(None)

    def on_unmount(self) -> None:
        self.cancel()

    @work(thread=True, exclusive=True, exit_on_error=False, group="training", description="training job")
    def _follow(self, job) -> None:  # noqa: ANN001 - TrainingJob
        ended = False
        try:
            job.start()
            for event in job.events():
                ended = ended or isinstance(event, (Finished, Error))
                self.post_message(TrainingEvent(event))
        except OSError as exc:
            ended = True
            self.post_message(TrainingEvent(Error(f"cannot start the training process: {exc}")))
        if not ended:  # the process went away without its last word: the screen must not wait for it
            self.post_message(TrainingEvent(Error("the training process ended without a final message")))

    def _set_running(self, running: bool) -> None:
        self.query_one("#start", Button).disabled = running
        self.query_one("#cancel", Button).disabled = not running

    # --- following the job

    def on_training_event(self, message: TrainingEvent) -> None:
        event, curve = message.event, self.curve
        if isinstance(event, Started):
            curve.max_steps = event.max_steps
            self.query_one("#progress", ProgressBar).update(total=event.max_steps, progress=event.resumed_from)
            what = f"{event.base} ({event.mode})" if event.base else f"from scratch ({event.preset})"
            self._stats(f"training {what}: {event.parameters:,} trainable parameters, {event.train_tokens:,} tokens "
                        f"(+{event.val_tokens:,} validation) from {event.documents} file(s)"
                        + (f"; {len(event.skipped)} skipped" if event.skipped else "")
                        + (f"; {fit}" if (fit := event.how_steps_run()) else ""))
            for path, reason in event.skipped:
                self.notify(f"{path}: {reason}", title="File skipped", severity="warning", markup=False)
        elif isinstance(event, Step):
            curve.train.append((event.step, event.loss))
            self.query_one("#progress", ProgressBar).update(progress=event.step)
            self._stats(f"step {event.step}/{curve.max_steps}   loss {event.loss:.4f}   "
                        f"{event.tokens_per_s:,.0f} tokens/s   ETA {format_duration(event.eta_s)}   "
                        f"elapsed {format_duration(event.elapsed_s)}")
            self._draw()
        elif isinstance(event, Eval):
            if event.step == 0:
                curve.base_perplexity = event.perplexity
            curve.val.append((event.step, event.val_loss))
            self._draw()
        elif isinstance(event, Sample):
            self.query_one("#sample-log", RichLog).write(
                Text.assemble((f"step {event.step}, t={event.temperature:g}: ", "bold"), event.prompt,
                              (event.text, "italic")))
        elif isinstance(event, Checkpoint):
            self.query_one("#result", Static).update(f"checkpoint at step {event.step}")
        elif isinstance(event, Saved):
            self.query_one("#result", Static).update(f"saved step {event.step} to {event.path}")
        elif isinstance(event, Finished):
            curve.finished = event
            self._end()
        elif isinstance(event, Error):
            curve.error = event.message
            self.notify(event.message, title="Training failed", severity="error", timeout=20, markup=False)
            self._end()

    def _end(self) -> None:
        self.job = None
        self._set_running(False)
        self.query_one("#use", Button).disabled = not (self.curve.finished and self.curve.finished.path)
        self.query_one("#result", Static).update(self.summary())
        self._stats(self.summary().splitlines()[0])  # in place of "cancelling…" or the last step's figures

    def summary(self) -> str:
        """The outcome: where the model is, and base versus fine-tuned perplexity on the validation split."""
        finished = self.curve.finished
        if finished is None:
            return f"failed: {self.curve.error}"
        if not finished.path:
            return f"stopped ({finished.reason}) before the first step: nothing saved"
        lines = [f"{finished.reason.replace('_', ' ')} after {finished.steps} steps: model saved to {finished.path}"]
        if finished.perplexity is not None:
            compare = (f"base model {finished.base_perplexity:.2f} -> fine-tuned {finished.perplexity:.2f}"
                       if finished.base_perplexity is not None else f"{finished.perplexity:.2f}")
            lines.append(f"validation perplexity: {compare}; {finished.bits_per_char:.3f} bits/char")
        return "\n".join(lines)

    def _stats(self, text: str) -> None:
        self.query_one("#stats", Static).update(text)

    def _draw(self) -> None:
        widget = self.query_one("#curve", PlotextPlot)
        plt = widget.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title("loss (nats/token)")
        plt.xlabel("step")
        if self.curve.train:
            plt.plot(*zip(*self.curve.train), label="training", marker="braille")
        if self.curve.val:
            plt.plot(*zip(*self.curve.val), label="validation", marker="dot")
        widget.refresh()


def _number(text: str) -> int | None:
    """A whole-number field's value (None when empty: the plan's default)."""
    return int(text) if text else None
