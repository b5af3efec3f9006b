"""Opening the analysis views: a component the App owns (`ScribeApp.analysis`), which its `action_*` methods call;
their keys are `ANALYSIS_BINDINGS` in `scribe.ui.keys`.

| id             | keys        | what it does                                                                  |
|----------------|-------------|-------------------------------------------------------------------------------|
| `attention`    | f6, alt+a   | attention of the tokens before the cursor (or of the shown continuation)      |
| `distribution` | f7, alt+d   | next-token distribution at any token, with the current settings' cuts         |
| `sweep`        | f5, alt+w   | sample the text before the cursor over a grid of sampling settings            |
| `evaluate`     | alt+v       | several models on the same files: perplexity, bits per character, tokens/s    |
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scribe.ui.app import ScribeApp


class AnalysisViews:
    """Opens the analysis views on the studio's text and model (only from the studio's main screen)."""

    def __init__(self, app: ScribeApp) -> None:
        self.app = app

    def attention(self) -> None:
        """Open the attention view."""
        from scribe.ui.screens.analysis import source_from_app
        from scribe.ui.screens.attention import AttentionScreen

        app = self.app
        if app._on_main_screen():
            app.push_screen(AttentionScreen(app.backend, app._backend_lock, source_from_app(app)))

    def distribution(self) -> None:
        """Open the next-token distribution view."""
        from scribe.ui.screens.analysis import source_from_app
        from scribe.ui.screens.distribution import DistributionScreen

        app = self.app
        if app._on_main_screen():
            app.push_screen(DistributionScreen(app.backend, app._backend_lock, source_from_app(app),
                                               params=app.settings.sampling))

    def sweep(self) -> None:
        """Open the sweep view on the text before the cursor."""
        from scribe.ui.screens.sweep import SweepScreen

        app = self.app
        if app._on_main_screen():
            prompt = app.editor.text_before_cursor()
            app.push_screen(SweepScreen(app.backend, app._backend_lock, prompt, app.settings.sampling))

    def evaluate(self) -> None:
        """Open the model evaluation view, starting from the studio's model."""
        from scribe.ui.screens.evaluation import EvaluationScreen

        app = self.app
        if app._on_main_screen():
            app.push_screen(EvaluationScreen(app.settings.model, app.settings.device))
