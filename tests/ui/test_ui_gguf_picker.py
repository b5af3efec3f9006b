"""The model picker offers the GGUF files of the folders the writer names in the `gguf_folders` setting."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from textual.widgets import DataTable

from scribe.config import Settings
from scribe.ui.app import ScribeApp
from scribe.ui.screens.models import ModelsScreen

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))
from tiny_models import save_tiny_llama, write_gguf  # noqa: E402

from writing_helpers import rendered, settle  # noqa: E402


@pytest.fixture(scope="module")
def gguf_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = save_tiny_llama(tmp_path_factory.mktemp("qwen2"), "qwen2", layers=1, hidden=32)
    return write_gguf(folder, tmp_path_factory.mktemp("gguf") / "tiny.gguf")


async def test_the_picker_lists_the_gguf_files_of_the_named_folders(settings: Settings, gguf_file: Path,
                                                                    tmp_path: Path) -> None:
    folder = tmp_path / "lm"
    (folder / "org").mkdir(parents=True)
    file = folder / "org" / "tiny-Q4_K_M.gguf"
    shutil.copy(gguf_file, file)
    app = ScribeApp(settings=settings.replace(gguf_folders=[str(folder)]))
    async with app.run_test(size=(200, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("f11")
        screen = app.screen
        assert isinstance(screen, ModelsScreen)
        for _ in range(500):
            if screen.entries:
                break
            await pilot.pause(0.02)
        entry = next(e for e in screen.entries if e.location == str(file))
        assert (entry.source, entry.kind, entry.usable) == ("gguf-folder", "gguf", True)
        lines = rendered(app, screen.query_one(DataTable))
        row = next((line for line in lines if "tiny-Q4_K_M.gguf" in line), None)
        assert row is not None, "\n".join(lines)  # drawn at once, each column as wide as its widest cell
        assert "gguf-folder" in row and "ready" in row, row
