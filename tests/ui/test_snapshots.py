"""Snapshots of the studio's main screens (update with `pytest --snapshot-update` after a deliberate change).

The tiny model with a fixed seed makes the text stable; the speed in the status bar is cleared and cursors do not
blink, so nothing else changes between runs.
"""

from __future__ import annotations

from scribe.config import Settings
from scribe.ui.app import ScribeApp

SIZE = (110, 32)


async def _continued(pilot, *extra: str) -> None:
    app: ScribeApp = pilot.app
    await app.workers.wait_for_complete()
    await pilot.pause()
    app.editor.cursor_blink = False
    await pilot.press(*"The sea was calm")
    await pilot.press("ctrl+j")
    while app.generating:
        await pilot.pause(0.05)
    await app.workers.wait_for_complete()
    await pilot.press(*extra)
    await _settled(pilot)


async def _settled(pilot) -> None:
    """Wait for the model, the token count after the last edit and any other worker; hide the speed and the cursor."""
    app: ScribeApp = pilot.app
    await app.workers.wait_for_complete()
    await pilot.pause(0.6)
    await app.workers.wait_for_complete()
    app.editor.cursor_blink = False
    app.status_bar.update_status(tokens_per_s=None)
    await pilot.pause()


def _app(settings: Settings) -> ScribeApp:
    return ScribeApp(settings=settings.replace(sampling=settings.sampling.replace(top_k=3)))


def test_snapshot_main_screen_with_the_token_inspector(snap_compare, settings: Settings) -> None:
    async def run_before(pilot) -> None:
        await _continued(pilot, "f3", "left", "left")

    assert snap_compare(_app(settings), terminal_size=SIZE, run_before=run_before)


def test_snapshot_tree_view(snap_compare, settings: Settings) -> None:
    async def run_before(pilot) -> None:
        await _continued(pilot, "ctrl+g")
        while pilot.app.generating:
            await pilot.pause(0.05)
        await pilot.app.workers.wait_for_complete()
        await pilot.press("f4")
        await pilot.pause()

    assert snap_compare(_app(settings), terminal_size=SIZE, run_before=run_before)


def test_snapshot_compare_screen(snap_compare, settings: Settings) -> None:
    async def run_before(pilot) -> None:
        await _continued(pilot, "ctrl+r", "f9", "r")
        await pilot.app.screen.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(_app(settings), terminal_size=SIZE, run_before=run_before)
