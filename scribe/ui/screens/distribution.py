"""The distribution view: the next-token distribution after the chosen token as a bar chart of the 20 most likely
tokens, with the cumulative mass, each token's probability after the sampling settings, and a line where top-k,
top-p, min-p (and any other enabled processor) start removing tokens at the studio's current settings.

Keys: left/right choose the token, escape closes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text

from scribe.analysis.distribution import Distribution
from scribe.sampling.params import SamplingParams
from scribe.ui.screens.analysis import AnalysisScreen
from scribe.ui.widgets.heatmap import distribution_chart, visible

if TYPE_CHECKING:
    from scribe.engine.introspect import ForwardPass


class DistributionScreen(AnalysisScreen):
    """The next-token distribution at any token of the text."""

    TITLE_TEXT = "Next-token distribution"

    def __init__(self, *args: object, params: SamplingParams, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.params = params

    def compute(self, analysed: "ForwardPass", position: int) -> Distribution:
        from scribe.analysis.distribution import distribution_at

        return distribution_at(analysed, position, self.params)

    def render_detail(self) -> tuple[Text, object]:
        dist = self.detail
        assert isinstance(dist, Distribution)
        return Text(f"after {visible(dist.after)!r}"), distribution_chart(dist)
