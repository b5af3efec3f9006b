"""GGUF files in the model list (scribe's models folder, the folders of the `gguf_folders` setting, a pulled
quantisation in the Hugging Face cache) and `scribe models pull REPO --include PATTERN` against the hub on 127.0.0.1."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import pytest

from scribe.commands import models as command
from scribe.config import ConfigError, Paths, Settings, load_settings, save_settings
from scribe.store.catalog import find_model, list_models, safetensors_parameters
from scribe.store.hub import DownloadError, pull

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))
from tiny_models import CHAT_TEMPLATE, save_tiny_llama, write_gguf  # noqa: E402


@pytest.fixture(scope="module")
def hf_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Qwen2 with a chat template, as a Hugging Face folder."""
    return save_tiny_llama(tmp_path_factory.mktemp("qwen2"), "qwen2", layers=1, hidden=32, context=256,
                           chat_template=CHAT_TEMPLATE)


@pytest.fixture(scope="module")
def gguf_file(hf_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same model as a real GGUF file (written by the gguf package)."""
    return write_gguf(hf_folder, tmp_path_factory.mktemp("gguf") / "tiny-qwen2-F32.gguf")


def scribe_models(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="scribe")
    command.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["models", *argv])
    return args.run(args)


def test_gguf_files_of_the_models_folder_and_of_the_named_folders_are_listed(hf_folder: Path, gguf_file: Path,
                                                                             tmp_path: Path, capsys) -> None:
    own = Paths.discover().models / "tiny.gguf"
    own.parent.mkdir(parents=True)
    shutil.copy(gguf_file, own)
    lmstudio = tmp_path / "lmstudio"
    nested = lmstudio / "someone" / "Tiny-GGUF" / "tiny-Q4_K_M.gguf"
    nested.parent.mkdir(parents=True)
    shutil.copy(gguf_file, nested)
    (lmstudio / "notes.gguf").write_text("not a model", encoding="utf-8")
    for part in ("big-00001-of-00002.gguf", "big-00002-of-00002.gguf"):
        shutil.copy(gguf_file, lmstudio / part)
    save_settings(Settings(gguf_folders=[str(lmstudio), str(tmp_path / "not-mounted")]))

    by_location = {entry.location: entry for entry in list_models(offered=False)}
    mine = by_location[str(own)]
    assert (mine.source, mine.kind, mine.usable, mine.size_bytes) == ("scribe", "gguf", True, gguf_file.stat().st_size)
    assert mine.parameters == safetensors_parameters(hf_folder), "the header's tensors are the model's weights"
    assert mine.context_length == 256 and mine.tokenizer == "gpt2 tokenizer, 300 tokens"
    assert mine.description == "GGUF file tiny.gguf: qwen2, chat template"
    theirs = by_location[str(nested)]
    assert (theirs.source, theirs.kind, theirs.status, theirs.name) == ("gguf-folder", "gguf", "ready", str(nested))
    bad = by_location[str(lmstudio / "notes.gguf")]
    assert not bad.usable and "not a GGUF file" in bad.status
    assert str(lmstudio / "big-00001-of-00002.gguf") in by_location, "a split model is listed by its first part"
    assert str(lmstudio / "big-00002-of-00002.gguf") not in by_location

    assert scribe_models("list") == 0
    table = capsys.readouterr().out.splitlines()
    row = next(line for line in table if line.startswith(str(nested)))
    assert row.split()[1:3] == ["gguf-folder", "ready"]
    assert find_model(str(nested)).kind == "gguf"


def test_the_gguf_folders_setting_is_checked() -> None:
    with pytest.raises(ConfigError, match="gguf_folders: must be a list of folder paths"):
        Settings(gguf_folders="~/models")  # type: ignore[arg-type]
    Paths.discover().config_file.parent.mkdir(parents=True)
    Paths.discover().config_file.write_text('gguf_folders = [""]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="config.toml: gguf_folders"):
        load_settings()


def test_pull_include_downloads_only_the_matching_quantisation(hub, gguf_file: Path, tmp_path: Path, capsys) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    for quant in ("Q4_K_M", "Q8_0"):
        shutil.copy(gguf_file, repo / f"tiny-{quant}.gguf")
    (repo / "README.md").write_text("# tiny\n", encoding="utf-8")
    hub.add_folder("someone/Tiny-GGUF", repo)

    assert scribe_models("pull", "someone/Tiny-GGUF", "--include", "*Q4_K_M.gguf") == 0
    out, err = capsys.readouterr()
    snapshot = Path(out.strip())
    assert sorted(p.name for p in snapshot.iterdir()) == ["tiny-Q4_K_M.gguf"]
    assert (snapshot / "tiny-Q4_K_M.gguf").read_bytes() == gguf_file.read_bytes()
    assert "1 files" in err
    assert not hub.gets("tiny-Q8_0.gguf") and not hub.gets("README.md"), "nothing else was downloaded"

    entry = find_model("someone/Tiny-GGUF")
    assert (entry.source, entry.kind, entry.usable, entry.location) == ("hf-cache", "gguf", True,
                                                                      str(snapshot / "tiny-Q4_K_M.gguf"))

    again = pull("someone/Tiny-GGUF", include=["*Q4_K_M.gguf"])
    assert again.transferred_bytes == 0, "a second pull finds the file in the cache"
    with pytest.raises(DownloadError, match=r"no file of someone/Tiny-GGUF.* matches '\*Q2_K\.gguf' \(it has: "
                                            r"README.md, tiny-Q4_K_M.gguf, tiny-Q8_0.gguf\)"):
        pull("someone/Tiny-GGUF", include=["*Q2_K.gguf"])
