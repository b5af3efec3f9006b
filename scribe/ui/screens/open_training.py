"""The studio's key for the training screen, and the action that opens it (mixed into the app); the screen itself
(scribe.ui.screens.training, with textual-plotext) is imported only when it opens."""

from __future__ import annotations

from textual.binding import Binding, BindingType

TRAINING_BINDINGS: list[BindingType] = [
    Binding("f10,alt+m", "training", "Train", id="training", show=False, priority=True,
            tooltip="Fine-tune a model on your files (or train one from scratch) and watch it learn"),
]


class TrainingActions:
    """The app's action that opens the training screen (its "Use in the studio" switches to the trained model)."""

    def action_training(self) -> None:
        """Open the training screen (from the studio only)."""
        from scribe.ui.screens.training import TrainingScreen

        if len(self.screen_stack) == 1:  # type: ignore[attr-defined]
            self.push_screen(TrainingScreen(), self.use_model)  # type: ignore[attr-defined]
