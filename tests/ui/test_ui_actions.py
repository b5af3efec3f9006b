"""Instruct actions in the real app: a selected passage is rewritten by a tiny chat model (a Llama with a chat
template, built here), the answer streams into the continuation pane with its probabilities, tab replaces the passage
and ctrl+z restores it; every answer is a branch of the tree (shown in the tree view, saved in the sidecar, offered
again from the tree); a base model lists the actions as unavailable with the reason."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from textual.widgets import Input, OptionList, Tree
from textual.widgets.text_area import Selection

from scribe.config import Settings
from scribe.sampling.params import SamplingParams
from scribe.studio.branches import BranchTree, sidecar_path
from scribe.studio.export import to_markdown
from scribe.ui import textual_private
from scribe.ui.app import ScribeApp
from scribe.ui.screens.rewrite import ActionMenuScreen
from scribe.ui.screens.tree import BranchTreeScreen

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))
from tiny_models import CHAT_TEMPLATE, save_tiny_llama  # noqa: E402

from writing_helpers import finished, pane_text, rendered, settle  # noqa: E402

SIZE = (100, 40)
STORY = "It was late. The rain fell on the garden. She closed the door."
PASSAGE = "The rain fell on the garden."


@pytest.fixture(scope="module")
def chat_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_llama(tmp_path_factory.mktemp("chat"), "llama", chat_template=CHAT_TEMPLATE, layers=1)


@pytest.fixture(scope="module")
def base_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_llama(tmp_path_factory.mktemp("base"), "llama", layers=1)


def settings_for(model: Path) -> Settings:
    return Settings(model=str(model), device="cpu", dtype="float32", autosave_seconds=3600.0,
                    sampling=SamplingParams(max_new_tokens=12, seed=5))


def story_file(folder: Path) -> Path:
    story = folder / "story.txt"
    story.write_text(STORY, encoding="utf-8")
    return story


def select_passage(app: ScribeApp) -> None:
    start = STORY.index(PASSAGE)
    document = app.editor.document
    app.editor.selection = Selection(document.get_location_from_index(start),
                                     document.get_location_from_index(start + len(PASSAGE)))


async def test_a_passage_is_rewritten_in_place_and_one_undo_restores_it(chat_model: Path, tmp_path: Path) -> None:
    story = story_file(tmp_path)
    app = ScribeApp(story, settings=settings_for(chat_model))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert app.model_state == "ready", app.status_bar.status
        select_passage(app)
        await pilot.press("alt+g")
        await pilot.pause()
        assert isinstance(app.screen, ActionMenuScreen)
        labels = [str(app.screen.query_one(OptionList).get_option_at_index(n).prompt) for n in range(5)]
        assert labels == ["Rewrite", "Expand", "Shorten", "Describe", "Custom instruction"]
        await pilot.press("enter")  # Rewrite, the first
        await finished(app, pilot)

        assert not isinstance(app.screen, ActionMenuScreen)
        assert app.stream_view.border_title.startswith("Rewrite · seed 5")
        assert "tab replaces the passage" in app.stream_view.border_subtitle
        steps = app.stream_view.steps
        assert steps and all(0.0 < step.raw_prob <= 1.0 and step.alternatives for step in steps), "probabilities, alternatives"
        answer = app.stream_view.own_text
        assert answer.strip()
        shown = "".join(pane_text(app).split())
        assert "".join(answer.split()) in shown, (shown, answer)
        assert app.editor.text == STORY, "nothing changes before the answer is accepted"

        await pilot.press("tab")
        await pilot.pause()
        expected = STORY.replace(PASSAGE, answer.strip())
        assert app.editor.text == expected
        assert app.rewriting.pending is None and pane_text(app) == "", "the pane is cleared once the answer is in the text"

        await pilot.press("ctrl+z")
        await pilot.pause()
        assert app.editor.text == STORY, "one undo restores the passage"


async def test_a_custom_instruction_is_asked_for_and_rejecting_keeps_the_passage(chat_model: Path,
                                                                                 tmp_path: Path) -> None:
    story = story_file(tmp_path)
    app = ScribeApp(story, settings=settings_for(chat_model))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        select_passage(app)
        commands = {command.title: command for command in app.get_system_commands(app.screen)}
        assert {"Actions (alt+g)", "Action: Rewrite", "Action: Describe"} <= set(commands)
        commands["Action: Custom instruction"].callback()  # the command palette's entry
        await pilot.pause()
        assert isinstance(app.screen, ActionMenuScreen)
        field = app.screen.query_one(Input)
        assert field.has_focus and field.display
        await pilot.press(*"make it rain", "enter")
        await finished(app, pilot)
        assert app.stream_view.border_title.startswith("Custom instruction")
        assert app.stream_view.steps
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert app.editor.text == STORY and app.rewriting.pending is None and pane_text(app) == ""


async def test_a_base_model_shows_the_actions_unavailable_with_the_reason(base_model: Path, tmp_path: Path) -> None:
    story = story_file(tmp_path)
    app = ScribeApp(story, settings=settings_for(base_model))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        select_passage(app)
        await pilot.press("alt+g")
        await pilot.pause()
        assert isinstance(app.screen, ActionMenuScreen)
        reason = str(app.screen.query_one("#action-reason").render())
        assert "no chat template" in reason and "Actions unavailable" in reason
        options = app.screen.query_one(OptionList)
        assert all(options.get_option_at_index(n).disabled for n in range(options.option_count))
        messages = [n.message for n in textual_private.notifications(app)]
        assert any("actions unavailable" in m and "no chat template" in m for m in messages), messages
        await pilot.press("enter")
        assert isinstance(app.screen, ActionMenuScreen) and not app.generating, "an unavailable action does not run"
        await pilot.press("escape")
        app.rewriting.run_named("custom")  # the palette's entry: the menu, not the instruction field
        await pilot.pause()
        assert isinstance(app.screen, ActionMenuScreen) and not app.screen.query_one(Input).display
        await pilot.press("escape")
        await pilot.pause()
        assert app.editor.text == STORY and app.rewriting.pending is None and not app.generating


def letters(text: str) -> str:
    return re.sub(r"[^A-Za-z]", "", text)


def tree_lines(app: ScribeApp) -> list[str]:
    """What the tree view shows, line by line."""
    return [line.rstrip() for line in rendered(app, app.screen.query_one("#tree"))]


async def test_each_answer_is_a_branch_in_the_tree_and_the_sidecar(chat_model: Path, tmp_path: Path) -> None:
    story = story_file(tmp_path)
    app = ScribeApp(story, settings=settings_for(chat_model))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        select_passage(app)
        await pilot.press("alt+g", "enter")  # Rewrite
        await finished(app, pilot)
        first_text = app.stream_view.own_text
        await pilot.press("ctrl+g")  # another answer: a sibling with the next seed
        await finished(app, pilot)
        assert app.stream_view.border_title.startswith("Rewrite 2/2 · seed 6"), app.stream_view.border_title
        second_text = app.stream_view.own_text
        answers = [node for node in app.branches.tree if node.action is not None]
        assert [node.generation.seed for node in answers] == [5, 6]
        first, second = answers
        assert first.parent == second.parent and app.branches.tree.node(first.parent).text == STORY[: STORY.index(PASSAGE)]
        assert (first.text, second.text) == (first_text, second_text) and first.stop_reason and first.tokens
        record = first.action
        assert (record.name, record.passage, record.instruction) == ("rewrite", PASSAGE, "")
        assert (record.start, record.end) == (STORY.index(PASSAGE), STORY.index(PASSAGE) + len(PASSAGE))

        await pilot.press("alt+left")  # back to the first answer
        await pilot.pause()
        assert app.stream_view.border_title.startswith("Rewrite 1/2 · seed 5") and app.rewriting.pending.node_id == first.id

        await pilot.press("f4")
        await pilot.pause()
        assert isinstance(app.screen, BranchTreeScreen)
        lines = tree_lines(app)
        shown = [line for line in lines if "Rewrite ▸" in line]
        assert len(shown) == 2, lines
        for line, text in zip(shown, (first_text, second_text)):  # the answer's letters (the tiny model writes noise)
            assert letters(text)[:6] in letters(line.split("Rewrite ▸", 1)[1]), (text, line)
        widget = app.screen.query_one(Tree)
        item = next(node for node in widget.root.children[0].children if node.data == second.id)
        widget.move_cursor(item)
        await pilot.pause()
        record_text = str(app.screen.query_one("#tree-record").render())
        assert "action Rewrite on characters 13–41" in record_text and "seed 6" in record_text, record_text
        await pilot.press("enter")  # offered again from the tree
        await pilot.pause()
        assert not isinstance(app.screen, BranchTreeScreen)
        assert app.rewriting.pending is not None and app.rewriting.pending.node_id == second.id
        assert "".join(second_text.split()) in "".join(pane_text(app).split())

        await pilot.press("tab")
        await settle(app, pilot)
        expected = STORY.replace(PASSAGE, second_text.strip())
        assert app.editor.text == expected.replace("\r\n", "\n").replace("\r", "\n")  # the editor's line breaks
        saved = BranchTree.load(sidecar_path(story))
        on_disk = {node.id: node for node in saved if node.action is not None}
        assert set(on_disk) == {first.id, second.id}
        assert on_disk[second.id].accepted and not on_disk[first.id].accepted
        assert on_disk[second.id].action == second.action and on_disk[second.id].text == second_text
        assert on_disk[second.id].generation.seed == 6 and on_disk[second.id].generation.params.max_new_tokens == 12
        assert f"Rewrite of “{PASSAGE}”" in to_markdown("story", app.editor.text, saved)

        await pilot.press("ctrl+z")  # the passage comes back and the answer is no longer accepted
        await settle(app, pilot)
        assert app.editor.text == STORY and not app.branches.tree.node(second.id).accepted
        assert not BranchTree.load(sidecar_path(story)).node(second.id).accepted

    reopened = ScribeApp(story, settings=settings_for(chat_model))
    async with reopened.run_test(size=SIZE) as pilot:
        await settle(reopened, pilot)
        await pilot.press("f4")
        await pilot.pause()
        assert isinstance(reopened.screen, BranchTreeScreen)
        assert len([line for line in tree_lines(reopened) if "Rewrite ▸" in line]) == 2
