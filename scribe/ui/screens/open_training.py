"""Opening the training screen: a component the App owns (`ScribeApp.training`), which its `action_training` calls;
its key is `TRAINING_BINDINGS` in `scribe.ui.keys`. The screen itself (scribe.ui.screens.training, with
textual-plotext) is imported only when it opens."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scribe.ui.app import ScribeApp


class TrainingView:
    """Opens the training screen (its "Use in the studio" switches the studio to the trained model)."""

    def __init__(self, app: ScribeApp) -> None:
        self.app = app

    def open(self) -> None:
        """Open the training screen (from the studio only)."""
        from scribe.ui.screens.training import TrainingScreen

        app = self.app
        if len(app.screen_stack) == 1:
            app.push_screen(TrainingScreen(), app.use_model)
