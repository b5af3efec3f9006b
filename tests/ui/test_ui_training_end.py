"""The training screen's status line ends with the job's final message, never left at "cancelling…"."""

from __future__ import annotations

from pathlib import Path

from textual.app import App
from textual.widgets import Static
from writing_helpers import BUNDLED, tiny_model

from scribe.ui.screens.training import TrainingScreen


class Host(App[None]):
    def __init__(self, screen: TrainingScreen) -> None:
        super().__init__()
        self.training = screen

    def on_mount(self) -> None:
        self.push_screen(self.training)


async def test_a_cancelled_job_leaves_its_final_message_in_the_status_line(tmp_path: Path, scribe_home: Path) -> None:
    data = tmp_path / "notes.txt"
    data.write_text((BUNDLED / "README.md").read_text(encoding="utf-8"), encoding="utf-8")
    base = tiny_model(tmp_path / "tiny-gpt2")
    screen = TrainingScreen(files=str(data), base=str(base), name="notes-cancelled", max_steps=5000, context=32,
                            batch_size=2, extra={"sample_tokens": 4, "eval_tokens": 64, "threads": 1})
    app = Host(screen)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.click("#start")
        await pilot.press("escape")  # cancel at once
        # "cancelling…" shows until the job ends (a job stopped while it was still starting may already have ended)
        assert "cancelling" in str(screen.query_one("#stats", Static).render()) or not screen.running
        await app.workers.wait_for_complete()
        await pilot.pause()
        stats = str(screen.query_one("#stats", Static).render())
        result = str(screen.query_one("#result", Static).render())
        assert "cancelling" not in stats and stats == result.splitlines()[0], (stats, result)
        assert not screen.running
        assert not stats.startswith("failed"), stats
