"""When scribe's native kernels cannot be built, the writer is told once the model loads (a toast naming the reason),
and the model still writes."""

from __future__ import annotations

from pathlib import Path

import pytest
from writing_helpers import bundled_settings, finished, settle, squeezed, toasts_on_screen

from scribe.engine import native
from scribe.ui.app import ScribeApp


async def test_a_compiler_that_fails_is_named_in_a_toast(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    compiler = tmp_path / "cc"
    compiler.write_text("#!/bin/sh\n[ \"$1\" = --version ] && { echo 'broken cc 1.0'; exit 0; }\n"
                        "echo 'native_kernels.c:1: error: no luck' >&2\nexit 1\n")
    compiler.chmod(0o755)
    monkeypatch.setenv("CC", str(compiler))
    monkeypatch.delenv("SCRIBE_NATIVE", raising=False)
    monkeypatch.setattr(native, "_loaded", [])  # this process may have loaded them already
    monkeypatch.setattr(native, "_problem", [])
    story = tmp_path / "story.txt"
    story.write_text("The ship came", encoding="utf-8")
    app = ScribeApp(story, settings=bundled_settings())
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        while app.model_state != "ready":
            await pilot.pause(0.05)
        await settle(app, pilot)
        shown = squeezed(" ".join(toasts_on_screen(app)))
        assert squeezed("Slower decoding") in shown
        assert squeezed(f"native kernels are not built (compiling native_kernels.c with {compiler} failed: "
                        "native_kernels.c:1: error: no luck)") in shown
        await pilot.press("ctrl+j")
        await finished(app, pilot)
        assert app.branches.current is not None and app.branches.current.generated
