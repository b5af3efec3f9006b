"""The drafts key on a backend that batches (the bundled model through scribe's GPT-2 decoder): one `stream_many` call
decodes every draft, and each lands as its own sibling with the text a single stream with its seed gives, shown in
the pane as today."""

from __future__ import annotations

from pathlib import Path

from writing_helpers import SIZE, bundled_settings, finished, pane_text, settle

from scribe.engine.base import Capability
from scribe.studio.prose import join_prose
from scribe.ui.app import ScribeApp

PROMPT = "The old house stood"


async def test_drafts_come_from_one_batched_decode(tmp_path: Path) -> None:
    story = tmp_path / "story.txt"
    story.write_text(PROMPT, encoding="utf-8")
    app = ScribeApp(story, settings=bundled_settings(max_new_tokens=8, seed=70).replace(drafts=3))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        backend = app.backend
        assert backend is not None and backend.supports(Capability.BATCH)
        calls: dict[str, list[int]] = {"stream_many": [], "stream": []}
        stream_many, stream = backend.stream_many, backend.stream

        def counted_many(prompt, params, **options):
            calls["stream_many"].append(len(params))
            return stream_many(prompt, params, **options)

        def counted(prompt, params, **options):
            calls["stream"].append(1)
            return stream(prompt, params, **options)

        backend.stream_many, backend.stream = counted_many, counted  # type: ignore[method-assign]
        await pilot.press("alt+n")
        while app.generating or app.generation.queued:
            await pilot.pause(0.05)
        await finished(app, pilot)
        assert calls == {"stream_many": [3], "stream": []}, "one batched decode, no single streams"
        root = app.branches.tree.roots()[0]
        drafts = app.branches.tree.children(root.id)
        assert [d.generation.seed for d in drafts] == [70, 71, 72]
        assert "branch 3/3" in app.stream_view.border_title and pane_text(app) == drafts[-1].text.rstrip()
        del backend.stream_many, backend.stream
        settings = app.settings.sampling
        for draft in drafts:
            alone = list(backend.stream(PROMPT, settings.replace(seed=draft.generation.seed),
                                        alternatives=app.settings.alternatives))[-1]
            assert draft.text == join_prose(PROMPT, alone.text, join_lines=app.settings.prose)
            assert draft.stop_reason == alone.reason
        assert len({d.text for d in drafts}) == 3
