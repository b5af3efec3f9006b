"""§4 Names and destructive commands: model names are names (`train --name`, `models rm`), `--overwrite` replaces only
a model folder and says what it replaces, and every deletion asks the same way, saying what and how much."""

from __future__ import annotations

import argparse
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from scribe.cli import CommandError
from scribe.commands import models as models_command
from scribe.config import Paths
from scribe.store.names import BadModelName, check_model_name, check_training_output

REPO = Path(__file__).resolve().parents[2]
BAD_NAMES = ["../escape", "../../etc", "/tmp/abs", "a/b", "a\\b", "..", ".", ".hidden", "~/novel", "", "  ",
             "x\x00y", "-rf", "remote:box", "n" * 101]


def scribe(*argv: str, home: Path, stdin=None, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {**os.environ, "SCRIBE_HOME": str(home), "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "scribe", *argv], capture_output=True, text=True, check=False, env=env,
                          cwd=REPO, timeout=timeout, stdin=stdin)


def scribe_models(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="scribe")
    models_command.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["models", *argv])
    return args.run(args)


def _fake_model(folder: Path, size: int = 300_000) -> Path:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text('{"model_type": "gpt2"}', encoding="utf-8")
    (folder / "model.safetensors").write_bytes(b"\0" * size)
    return folder


@pytest.mark.parametrize("name", BAD_NAMES)
def test_a_model_name_that_is_a_path_is_refused(name: str) -> None:
    with pytest.raises(BadModelName, match="model name"):
        check_model_name(name)


@pytest.mark.parametrize("name", ["my-novel", "gutenberg_v2", "Model 3", "été.1"])
def test_plain_names_pass(name: str) -> None:
    assert check_model_name(name) == name


@pytest.mark.parametrize("name", ["../escape", "/tmp/abs-model", ".."])
def test_train_refuses_a_path_as_a_name_and_writes_nothing(tmp_path: Path, name: str) -> None:
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("Some words to train on. " * 200, encoding="utf-8")
    before = set(tmp_path.rglob("*"))
    result = scribe("train", str(corpus), "--name", name, "--max-steps", "1", home=tmp_path / "home")
    assert result.returncode == 1
    assert "model name" in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not Path("/tmp/abs-model").exists()
    assert {p for p in tmp_path.rglob("*") if "home" not in p.parts} <= before


def test_overwrite_replaces_only_a_model_folder_and_says_what(tmp_path: Path) -> None:
    documents = tmp_path / "Documents"
    documents.mkdir()
    (documents / "novel.txt").write_text("years of work", encoding="utf-8")
    with pytest.raises(BadModelName, match="not a model folder"):
        check_training_output(documents, None, overwrite=True, resume=False)
    assert (documents / "novel.txt").read_text(encoding="utf-8") == "years of work"
    model = _fake_model(tmp_path / "old-model")
    said = check_training_output(model, "old-model", overwrite=True, resume=False)
    assert said is not None and str(model) in said and "kB" in said
    with pytest.raises(BadModelName, match="already exists"):
        check_training_output(model, "old-model", overwrite=False, resume=False)
    assert check_training_output(tmp_path / "new", "new", overwrite=False, resume=False) is None


def test_train_overwrite_on_a_folder_of_documents_is_refused(tmp_path: Path) -> None:
    documents = tmp_path / "Documents"
    documents.mkdir()
    (documents / "novel.txt").write_text("years of work", encoding="utf-8")
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("Some words to train on. " * 200, encoding="utf-8")
    result = scribe("train", str(corpus), "--output", str(documents), "--overwrite", "--max-steps", "1",
                    home=tmp_path / "home")
    assert result.returncode == 1 and "not a model folder" in result.stderr
    assert sorted(p.name for p in documents.iterdir()) == ["novel.txt"]


@pytest.mark.parametrize("name", ["../models", "/etc", "~/x", "a/../b", "a\\b", "x/y/z"])
def test_models_rm_refuses_paths(name: str) -> None:
    with pytest.raises(BadModelName, match="is a path"):
        scribe_models("rm", name, "--yes")


def test_models_rm_does_not_follow_a_link_out_of_the_models_folder(tmp_path: Path) -> None:
    outside = _fake_model(tmp_path / "precious")
    models = Paths.discover().models
    models.mkdir(parents=True)
    (models / "linked").symlink_to(outside)
    with pytest.raises(BadModelName, match="outside the models folder"):
        scribe_models("rm", "linked", "--yes")
    assert (outside / "model.safetensors").exists()


def test_deleting_a_trained_model_says_what_and_how_much_and_asks(tmp_path: Path, capsys) -> None:
    _fake_model(Paths.discover().models / "mine")
    with pytest.raises(CommandError) as caught:
        scribe_models("rm", "mine")  # stdin is not a terminal: nothing is deleted without --yes
    assert "kept mine" in str(caught.value) and "kB" in str(caught.value) and "--yes" in str(caught.value)
    assert (Paths.discover().models / "mine").is_dir()
    assert scribe_models("rm", "mine", "--yes") == 0
    assert "freed" in capsys.readouterr().err and not (Paths.discover().models / "mine").exists()


def test_a_deletion_at_a_terminal_asks_with_what_and_how_much(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _fake_model(home / "data" / "models" / "asked")
    master, slave = pty.openpty()
    env = {**os.environ, "SCRIBE_HOME": str(home), "PYTHONPATH": str(REPO)}
    process = subprocess.Popen([sys.executable, "-m", "scribe", "models", "rm", "asked"], stdin=slave, stdout=slave,
                               stderr=slave, env=env, cwd=REPO)
    os.close(slave)
    output = b""
    while b"[y/N]" not in output:
        output += os.read(master, 4096)
    assert b"asked, trained by scribe" in output and b"kB" in output
    os.write(master, b"y\n")
    assert process.wait(timeout=30) == 0
    os.close(master)
    assert not (home / "data" / "models" / "asked").exists()


def test_removing_from_the_hugging_face_cache_asks_too(hf_home: Path) -> None:
    from scribe.config import hf_cache_dir

    repo = hf_cache_dir() / "models--someone--tiny"
    snapshot = _fake_model(repo / "snapshots" / "abc123")
    (snapshot / "vocab.json").write_text("{}", encoding="utf-8")
    (snapshot / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("abc123", encoding="utf-8")
    with pytest.raises(CommandError, match="kept someone/tiny from the Hugging Face cache"):
        scribe_models("rm", "someone/tiny")
    assert repo.is_dir()
    assert scribe_models("rm", "someone/tiny", "--yes") == 0
    assert not repo.exists()


async def test_the_training_screen_refuses_a_path_as_a_name(tmp_path: Path) -> None:
    from textual.app import App

    from scribe.ui.screens.training import TrainingScreen

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("words " * 100, encoding="utf-8")
    app: App = App()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = TrainingScreen(files=str(corpus), name="../../outside")
        await app.push_screen(screen)
        await pilot.pause()
        screen.start()
        await pilot.pause()
        assert screen.job is None
        assert any("model name '../../outside'" in n.message for n in app._notifications)
    assert not (Paths.discover().models.parent / "outside").exists()
