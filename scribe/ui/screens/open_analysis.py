"""The actions that open the analysis views (mixed into the app); their keys are `ANALYSIS_BINDINGS` in
`scribe.ui.keys`.

| id             | keys        | what it does                                                                  |
|----------------|-------------|-------------------------------------------------------------------------------|
| `attention`    | f6, alt+a   | attention of the tokens before the cursor (or of the shown continuation)      |
| `distribution` | f7, alt+d   | next-token distribution at any token, with the current settings' cuts         |
| `sweep`        | f5, alt+w   | sample the text before the cursor over a grid of sampling settings            |
| `evaluate`     | alt+v       | several models on the same files: perplexity, bits per character, tokens/s    |
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scribe.config import Settings
    from scribe.engine.base import Backend


class AnalysisActions:
    """Actions of the app that open the analysis views on the studio's text and model."""

    backend: "Backend | None"
    settings: "Settings"
    _backend_lock: threading.Lock

    def _on_studio(self) -> bool:
        return len(self.screen_stack) == 1  # type: ignore[attr-defined]

    def action_attention(self) -> None:
        """Open the attention view."""
        from scribe.ui.screens.analysis import source_from_app
        from scribe.ui.screens.attention import AttentionScreen

        if self._on_studio():
            screen = AttentionScreen(self.backend, self._backend_lock, source_from_app(self))
            self.push_screen(screen)  # type: ignore[attr-defined]

    def action_distribution(self) -> None:
        """Open the next-token distribution view."""
        from scribe.ui.screens.analysis import source_from_app
        from scribe.ui.screens.distribution import DistributionScreen

        if self._on_studio():
            screen = DistributionScreen(self.backend, self._backend_lock, source_from_app(self),
                                        params=self.settings.sampling)
            self.push_screen(screen)  # type: ignore[attr-defined]

    def action_sweep(self) -> None:
        """Open the sweep view on the text before the cursor."""
        from scribe.ui.screens.sweep import SweepScreen

        if self._on_studio():
            prompt = self.editor.text_before_cursor()  # type: ignore[attr-defined]
            screen = SweepScreen(self.backend, self._backend_lock, prompt, self.settings.sampling)
            self.push_screen(screen)  # type: ignore[attr-defined]

    def action_evaluate(self) -> None:
        """Open the model evaluation view, starting from the studio's model."""
        from scribe.ui.screens.evaluation import EvaluationScreen

        if self._on_studio():
            self.push_screen(EvaluationScreen(self.settings.model, self.settings.device))  # type: ignore[attr-defined]
