"""The action that opens the training screen (mixed into the app; its key is `TRAINING_BINDINGS` in `scribe.ui.keys`);
the screen itself (scribe.ui.screens.training, with textual-plotext) is imported only when it opens."""

from __future__ import annotations


class TrainingActions:
    """The app's action that opens the training screen (its "Use in the studio" switches to the trained model)."""

    def action_training(self) -> None:
        """Open the training screen (from the studio only)."""
        from scribe.ui.screens.training import TrainingScreen

        if len(self.screen_stack) == 1:  # type: ignore[attr-defined]
            self.push_screen(TrainingScreen(), self.use_model)  # type: ignore[attr-defined]
