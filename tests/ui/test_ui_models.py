"""The model picker in the real app (pilot): the list, switching the studio's model, and downloads with the real
huggingface_hub client from a hub on 127.0.0.1 into a private Hugging Face cache."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, ProgressBar

from scribe.config import Settings, hf_cache_dir
from scribe.store.bundled import bundled_models_dir
from scribe.store.hub import folder_size, format_bytes, pull, repo_folder
from scribe.store.remotes import RemoteEndpoint, save_remote
from scribe.ui.app import ScribeApp
from scribe.ui.screens.help import HelpScreen
from scribe.ui.screens.models import ModelsScreen

REPO = "tiny-org/tiny-gpt2"
SIZE = (150, 40)


@pytest.fixture
def served(hub, hub_model: Path):
    """The hub on 127.0.0.1 serving a small GPT-2 as REPO."""
    hub.add_folder(REPO, hub_model)
    return hub


async def ready(app: ScribeApp, pilot) -> None:
    await app.workers.wait_for_complete()
    await pilot.pause()
    assert app.model_state == "ready", app.status_bar.status


async def until(pilot, condition: Callable[[], bool], timeout_s: float = 30.0) -> None:
    for _ in range(int(timeout_s / 0.02)):
        if condition():
            return
        await pilot.pause(0.02)
    raise AssertionError("timed out")


async def open_picker(app: ScribeApp, pilot) -> ModelsScreen:
    await pilot.press("f11")
    screen = app.screen
    assert isinstance(screen, ModelsScreen)
    await until(pilot, lambda: bool(screen.entries))
    return screen


async def listed_again(screen: ModelsScreen, pilot) -> None:
    """Wait for a download to end and the list it refreshes."""
    await until(pilot, lambda: screen.downloading is None)
    await screen.app.workers.wait_for_complete()
    await pilot.pause()


async def highlight(screen: ModelsScreen, pilot, name: str) -> None:
    """Move the table's cursor to `name` with the keyboard."""
    await pilot.press("ctrl+home")
    for _ in screen.entries:
        entry = screen.highlighted()
        if entry is not None and entry.name == name:
            return
        await pilot.press("down")
    raise AssertionError(f"{name} is not listed")


def cells(screen: ModelsScreen) -> dict[str, list[str]]:
    """The table's rows by model name, as shown."""
    table = screen.query_one("#models-table", DataTable)
    rows = [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]
    return {row[0].split("  ◀")[0]: row for row in rows}


def shown(screen: ModelsScreen, selector: str) -> str:
    return screen.query_one(selector).content.plain


def storage() -> Path:
    return repo_folder(hf_cache_dir(), REPO)


async def test_the_picker_lists_every_model_with_its_size_and_enter_switches_the_studio(
        settings: Settings, served) -> None:
    pull(REPO)
    save_remote(RemoteEndpoint(name="lab", base_url="http://127.0.0.1:9/v1", model="big"))
    app = ScribeApp(settings=settings)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        keys = {(row.where, row.id): row.keys for row in app.screen.rows}
        assert keys[("studio", "models")] == "f11,alt+o"
        assert keys[("model picker (f11)", "models_close")] == "escape"
        await pilot.press("escape")
        screen = await open_picker(app, pilot)
        rows = cells(screen)
        assert rows["scribe-gutenberg"][1:4] == [
            "bundled", "ready", format_bytes(folder_size(bundled_models_dir() / "scribe-gutenberg"))]
        assert rows[REPO][1:4] == ["hf-cache", "ready", format_bytes(folder_size(storage()))]
        assert rows[REPO][4:7] == ["169.1k", "1024", "GPT2Tokenizer, 20000 tokens"], "parameters, context, tokenizer"
        assert rows["gpt2"][1:4] == ["offered", "not downloaded", "551 MB download"]
        assert rows["remote:lab"][1:3] == ["remote", "configured"]

        await highlight(screen, pilot, REPO)
        assert "enter: write with it" in shown(screen, "#models-detail")
        await pilot.press("enter")
        assert app.screen is app.screen_stack[0], "enter on a ready model closes the picker"
        await ready(app, pilot)
        assert app.settings.model == REPO and app.backend is not None
        assert app.status_bar.status.model == REPO and REPO in app.status_bar.render_status().plain
        await pilot.press("f2")  # the settings panel shows the model chosen in the picker
        await pilot.pause()
        assert app.settings_panel.input_for("model").value == REPO

        screen = await open_picker(app, pilot)
        table = screen.query_one("#models-table", DataTable)
        assert str(table.get_row_at(table.cursor_row)[0]) == f"{REPO}  ◀ now", "the cursor starts on the studio's model"
        await pilot.press("escape")
        assert app.screen is app.screen_stack[0] and app.settings.model == REPO


async def test_a_download_moves_the_progress_bar_and_the_model_is_then_ready(settings: Settings, served) -> None:
    served.pace("tokenizer.json", 0.05)
    served.pace("model.safetensors", 0.05)
    app = ScribeApp(settings=settings)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        screen = await open_picker(app, pilot)
        await pilot.press("tab")
        assert isinstance(app.focused, Input)
        await pilot.press(*REPO, "enter")
        bar = screen.query_one("#models-progress", ProgressBar)
        seen: list[float] = []
        lines: list[str] = []
        while screen.downloading:
            seen.append(bar.progress)
            lines.append(shown(screen, "#models-progress-text"))
            await pilot.pause(0.02)
        await listed_again(screen, pilot)

        snapshot = storage() / "snapshots" / (storage() / "refs" / "main").read_text()
        total = sum(f.stat().st_size for f in snapshot.iterdir())
        assert bar.total == bar.progress == total
        assert any(0 < p < total for p in seen), "the bar moved through the download"
        assert any("/s  ETA" in line and f"/ {format_bytes(total)}" in line for line in lines), lines
        assert shown(screen, "#models-progress-text").startswith(f"downloaded {REPO}: ")
        entry = screen.highlighted()
        assert entry is not None and entry.name == REPO and entry.usable and entry.status == "ready"
        assert isinstance(app.focused, DataTable), "the cursor waits on the new model"
        await pilot.press("enter")
        await ready(app, pilot)
        assert app.settings.model == REPO and app.status_bar.status.model == REPO


def partial_files() -> list[Path]:
    """The files of REPO that a download has begun and not finished."""
    return [p for p in storage().glob("blobs/*.incomplete") if p.stat().st_size]


async def test_cancel_keeps_the_partial_download_unusable_and_downloading_again_resumes(
        settings: Settings, served, hub_model: Path) -> None:
    served.pace("tokenizer.json", 0.3)
    app = ScribeApp(settings=settings)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        screen = await open_picker(app, pilot)
        await pilot.press("tab", *REPO, "enter")
        await until(pilot, lambda: bool(partial_files()))
        await pilot.press("escape")
        await listed_again(screen, pilot)
        assert isinstance(app.screen, ModelsScreen), "escape cancelled the download and left the picker open"
        text = shown(screen, "#models-progress-text")
        assert text.startswith(f"download of {REPO} cancelled: the ") and "downloading it again resumes" in text
        [part] = partial_files()
        kept = part.stat().st_size
        assert 0 < kept < (hub_model / "tokenizer.json").stat().st_size
        assert not (storage() / "refs" / "main").exists()
        mine = [e for e in screen.entries if e.name.startswith(REPO)]
        assert mine and not any(e.usable for e in mine), "a cancelled download is never usable"
        assert "partial download kept" in mine[0].status

        assert isinstance(app.focused, Input) and app.focused.value == REPO
        await pilot.press("enter")
        await listed_again(screen, pilot)
        assert served.gets("tokenizer.json")[-1].range == f"bytes={kept}-", "the second download resumed"
        assert not partial_files()
        entry = screen.highlighted()
        assert entry is not None and entry.name == REPO and entry.usable


async def test_download_failures_are_one_clear_line_and_the_studio_keeps_running(
        settings: Settings, served, hub_model: Path, errors, monkeypatch: pytest.MonkeyPatch) -> None:
    served.add_folder("tiny-org/gated", hub_model, gated_token="secret")
    served.add_folder("tiny-org/huge", hub_model, declared_sizes={"model.safetensors": 10**18})
    served.add_folder("tiny-org/flaky", hub_model)
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{closed.getsockname()[1]}"
    app = ScribeApp(settings=settings)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        screen = await open_picker(app, pilot)
        await pilot.press("tab")

        async def download(name: str) -> str:
            await pilot.press("ctrl+u", *name, "enter")
            await listed_again(screen, pilot)
            return shown(screen, "#models-progress-text")

        line = await download("nobody/nothing")
        assert line.startswith(f"unknown repository: no repository nobody/nothing on {served.url}")
        assert line in errors(app)
        assert (await download("tiny-org/gated")).startswith("access denied: tiny-org/gated is gated")
        assert (await download("tiny-org/huge")).startswith("disk full: not enough disk space for tiny-org/huge")
        served.cut("model.safetensors", after_bytes=100_000, times=3)
        assert (await download("tiny-org/flaky")).startswith(
            "download interrupted: the transfer of model.safetensors broke off")
        monkeypatch.setenv("HF_ENDPOINT", dead)
        assert (await download(REPO)).startswith(f"hub unreachable: cannot reach {dead}")
        assert all("\n" not in message for message in errors(app))

        assert isinstance(app.screen, ModelsScreen) and app.model_state == "ready"
        await pilot.press("escape")
        assert app.screen is app.screen_stack[0]
        await pilot.press(*"still here")
        assert app.editor.text == "still here"
