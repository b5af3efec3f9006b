"""Projects: chapter order, shared tools, the previous chapter's end, word counts and search, on real files."""

from __future__ import annotations

from pathlib import Path

import pytest

from scribe.studio.context import ContextTools
from scribe.studio.lorebook import LoreEntry, Lorebook
from scribe.studio.project import PROJECT_FILE, Project, ProjectError, project_of

PROJECT = '''chapters = ["01-departure.txt", "02-storm.txt", "03-landfall.txt"]
memory = "A sea story."
note = "[Mood: dread]"
note_depth = 1
previous_paragraphs = 2

[[lorebook.entry]]
name = "Mara"
keys = ["Mara"]
text = "Mara captains the Heron."
'''


def words(text: str) -> int:
    return len(text.split())


def make(folder: Path, project: str = PROJECT) -> Path:
    (folder / PROJECT_FILE).write_text(project, encoding="utf-8")
    (folder / "01-departure.txt").write_text("They left at dusk.\n\nThe crew was quiet.\n\nMara took the wheel.\n",
                                             encoding="utf-8")
    (folder / "02-storm.txt").write_text("The storm came at night.\n\nBren lashed the sails", encoding="utf-8")
    (folder / "03-landfall.txt").write_text("Land.", encoding="utf-8")
    (folder / "notes.txt").write_text("not a chapter", encoding="utf-8")
    return folder


def test_chapters_word_counts_and_search(tmp_path: Path) -> None:
    project = Project.load(make(tmp_path))
    assert project.chapters == ("01-departure.txt", "02-storm.txt", "03-landfall.txt")
    assert project.word_counts() == [("01-departure.txt", 12), ("02-storm.txt", 9), ("03-landfall.txt", 1)]
    hits = project.search("the")
    assert [(h.chapter, h.line) for h in hits] == [("01-departure.txt", 1), ("01-departure.txt", 3),
                                                   ("01-departure.txt", 5),
                                                   ("02-storm.txt", 1), ("02-storm.txt", 3)]
    assert [h.text for h in project.search(r"^L\w+\.$", regex=True)] == ["Land."]
    assert project.search("mara", case_sensitive=True) == []


def test_the_previous_chapters_end_comes_first_and_is_cut_first(tmp_path: Path) -> None:
    project = Project.load(make(tmp_path))
    assert project.previous_end("01-departure.txt") == ""
    assert project.previous_end("02-storm.txt") == "The crew was quiet.\n\nMara took the wheel."
    text = project.text_of("02-storm.txt")
    story = project.story_for("02-storm.txt", text)
    tools = project.tools_for(ContextTools(memory="Chapter two.", lorebook=Lorebook((LoreEntry(keys=("Bren",),
                                                                                               text="Bren: smith."),))))
    roomy = tools.assemble(story, 100, words)
    assert roomy.prompt == ("A sea story.\nChapter two.\nMara captains the Heron.\nBren: smith.\n"
                            "The crew was quiet.\n\nMara took the wheel.\n\nThe storm came at night.\n\n[Mood: dread]"
                            "\n\nBren lashed the sails")
    tight = tools.assemble(story, 23, words)  # 4 + 4 + 2 + 2 fixed, 9 story: the previous chapter goes first
    assert tight.prompt.endswith("Bren: smith.\nThe storm came at night.\n\n[Mood: dread]\n\nBren lashed the sails")
    assert "quiet" not in tight.prompt
    off = Project.load(make(tmp_path, "include_previous = false\n" + PROJECT))
    assert off.story_for("02-storm.txt", text) == text


def test_project_of_a_chapter_and_bad_projects(tmp_path: Path) -> None:
    make(tmp_path)
    assert project_of(tmp_path / "02-storm.txt") is not None
    assert project_of(tmp_path / "notes.txt") is None
    default = Project.load(make(tmp_path, "memory = 'm'\n"))  # no list: the folder's .txt and .md by name
    assert default.chapters == ("01-departure.txt", "02-storm.txt", "03-landfall.txt", "notes.txt")
    with pytest.raises(ProjectError, match="chapter file\\(s\\) not found: 09.txt"):
        Project.load(make(tmp_path, 'chapters = ["09.txt"]\n'))
    with pytest.raises(ProjectError, match="no scribe-project.toml"):
        Project.load(tmp_path / "01-departure.txt")
