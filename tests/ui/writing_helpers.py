"""Helpers for the writing-loop tests: the bundled model's settings, a story with a long and a short branch, and
what the screen shows where a widget is and in each toast."""

from __future__ import annotations

import shutil
from pathlib import Path

from textual.widget import Widget
from textual.widgets._toast import Toast

from scribe.config import Settings
from scribe.sampling.params import SamplingParams
from scribe.studio.branches import BranchTree, Generation, TokenRecord, sidecar_path
from scribe.ui.app import ScribeApp

BUNDLED = Path(__file__).resolve().parents[2] / "models" / "scribe-gutenberg"
SIZE = (100, 40)
LONG = "".join(f"\nthe long branch, line {n}" for n in range(1, 5)) + " calm."
SHORT = " and the sea was calm."


def bundled_settings(**sampling: object) -> Settings:
    """The bundled model on the CPU, short continuations, no timer autosaves."""
    return Settings(model=str(BUNDLED), device="cpu", dtype="float32", autosave_seconds=3600.0,
                    sampling=SamplingParams(**{"max_new_tokens": 6, "seed": 3, **sampling}))


def rendered(app: ScribeApp, widget: Widget) -> list[str]:
    """The lines the screen shows where `widget` is (through Textual's compositor and its line caches)."""
    region = widget.scrollable_content_region
    strips = app.screen._compositor.render_strips()
    return [strip.crop(region.x, region.right).text for strip in strips[region.y : region.bottom]]


def screen_text(app: ScribeApp) -> str:
    """Every line the terminal shows, through Textual's compositor."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def toasts_on_screen(app: ScribeApp) -> list[str]:
    """The text each toast shows, read from the screen's rendered lines where the toast is."""
    strips = app.screen._compositor.render_strips()
    shown = []
    for toast in app.screen.query(Toast):
        region = toast.content_region
        shown.append("\n".join(strip.crop(region.x, region.right).text.rstrip()
                               for strip in strips[region.y : region.bottom]))
    return shown


def squeezed(text: str) -> str:
    """The text without its white space (the toast wraps lines where it likes)."""
    return "".join(text.split())


def pane_text(app: ScribeApp) -> str:
    """What the continuation pane's text area shows, lines joined with newlines and trailing blanks dropped."""
    from scribe.ui.widgets.stream_text import StreamText

    return "\n".join(line.rstrip() for line in rendered(app, app.stream_view.query_one(StreamText))).rstrip()


def story_with_two_branches(folder: Path) -> tuple[Path, str, str]:
    """A document and a sidecar holding a long and a short sibling continuation of it; the long one is shown."""
    story = folder / "story.txt"
    story.write_text("Once", encoding="utf-8")
    tree = BranchTree()
    root = tree.anchor_for("Once")
    generation = Generation(model="test", weights_hash=None, params=SamplingParams(seed=1), processor_order=(),
                            alternatives=0)
    ids = []
    for text in (LONG, SHORT):
        node = tree.add(root.id, generation)
        pieces = text.split(" ")
        tokens = tuple(TokenRecord(n, piece if n == 0 else " " + piece, 0.9, 0.9) for n, piece in enumerate(pieces))
        tree.finish(node.id, text, tokens, "length")
        ids.append(node.id)
    tree.current = ids[0]
    tree.save(sidecar_path(story))
    return story, ids[0], ids[1]


async def settle(app: ScribeApp, pilot) -> None:
    await app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.pause()


async def finished(app: ScribeApp, pilot) -> None:
    while app.generating:
        await pilot.pause(0.05)
    await settle(app, pilot)


def tiny_model(folder: Path) -> Path:
    """A one-layer random GPT-2 with the bundled model's tokenizer."""
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(n_layer=1, n_head=2, n_embd=16, n_positions=256, vocab_size=8192)
    GPT2LMHeadModel(config).save_pretrained(folder)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(BUNDLED / name, folder / name)
    return folder
