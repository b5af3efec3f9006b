"""Downloads with the real huggingface_hub client from a hub on 127.0.0.1 into a temporary Hugging Face cache."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import pytest

from scribe.config import hf_cache_dir
from scribe.store import hub as hubmod
from scribe.store.hub import (
    AccessDenied,
    DiskFull,
    DownloadCancelled,
    DownloadError,
    HubUnreachable,
    RepoNotFound,
    TransferInterrupted,
    parse_spec,
    pull,
)

REPO = "tiny-org/tiny-gpt2"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_pull_fetches_only_what_the_model_needs_into_the_standard_cache(hub, tiny_model):
    hub.add_folder(REPO, tiny_model, extra={"pytorch_model.bin": b"pickle" * 1000, "onnx/model.onnx": b"x" * 100,
                                            "README.md": b"# card"})
    seen = []
    pulled = pull(REPO, progress=seen.append)

    assert pulled.path == hf_cache_dir() / "models--tiny-org--tiny-gpt2" / "snapshots" / pulled.commit
    assert sorted(p.name for p in pulled.path.iterdir()) == sorted(p.name for p in tiny_model.iterdir()) == [
        "config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"]
    for name in pulled.files:
        assert (pulled.path / name).read_bytes() == (tiny_model / name).read_bytes()
    assert not hub.gets("pytorch_model.bin") and not hub.gets("onnx/model.onnx") and not hub.gets("README.md")
    assert (pulled.path.parents[1] / "refs" / "main").read_text() == pulled.commit
    assert pulled.transferred_bytes == pulled.total_bytes == sum((tiny_model / f).stat().st_size for f in pulled.files)
    final = seen[-1]
    assert (final.done_bytes, final.files_done, final.fraction, final.eta_s) == (pulled.total_bytes, len(pulled.files), 1.0, 0.0)
    assert all(a.done_bytes <= b.done_bytes for a, b in zip(seen, seen[1:]))

    again = pull(REPO)  # everything cached: nothing is transferred
    assert again.path == pulled.path and again.transferred_bytes == 0


def test_a_transfer_cut_off_midway_is_resumed_with_a_range_request(hub, tiny_model):
    hub.add_folder(REPO, tiny_model)
    hub.cut("model.safetensors", after_bytes=1_200_000)

    pulled = pull(REPO)

    ranges = [r.range for r in hub.gets("model.safetensors")]
    assert ranges[0] is None and ranges[1].startswith("bytes=") and int(ranges[1][6:-1]) >= 1_000_000
    assert sha256(pulled.path / "model.safetensors") == sha256(tiny_model / "model.safetensors")


def test_an_interrupted_pull_keeps_its_bytes_and_the_next_pull_resumes(hub, tiny_model):
    hub.add_folder(REPO, tiny_model)
    hub.cut("model.safetensors", after_bytes=1_200_000)

    with pytest.raises(TransferInterrupted, match="broke off after .* of .*run the same pull again to resume"):
        pull(REPO, retries=0)
    storage = hf_cache_dir() / "models--tiny-org--tiny-gpt2"
    (partial,) = (storage / "blobs").glob("*.incomplete")
    assert 1_000_000 <= partial.stat().st_size < (tiny_model / "model.safetensors").stat().st_size
    assert not (storage / "refs" / "main").exists()  # not findable by name while incomplete
    kept = partial.stat().st_size

    pulled = pull(REPO)

    assert hub.gets("model.safetensors")[-1].range == f"bytes={kept}-"
    assert not list((storage / "blobs").glob("*.incomplete"))
    assert sha256(pulled.path / "model.safetensors") == sha256(tiny_model / "model.safetensors")
    assert pulled.transferred_bytes < pulled.total_bytes


def test_a_cancelled_pull_stops_and_resumes_later(hub, tiny_model):
    hub.add_folder(REPO, tiny_model)
    hub.pace("model.safetensors", 0.05)
    cancel = threading.Event()

    def on_progress(p):
        if p.filename == "model.safetensors" and p.done_bytes > 0:
            cancel.set()

    with pytest.raises(DownloadCancelled, match="cancelled; run the same pull again to resume"):
        pull(REPO, progress=on_progress, cancel=cancel)
    storage = hf_cache_dir() / "models--tiny-org--tiny-gpt2"
    (partial,) = (storage / "blobs").glob("*.incomplete")
    kept = partial.stat().st_size
    assert 0 < kept < (tiny_model / "model.safetensors").stat().st_size

    hub.pace("model.safetensors", 0.0)
    pulled = pull(REPO)
    assert hub.gets("model.safetensors")[-1].range == f"bytes={kept}-"
    assert sha256(pulled.path / "model.safetensors") == sha256(tiny_model / "model.safetensors")


def test_sharded_weights_are_fetched_through_their_index(hub, sharded_model):
    hub.add_folder(REPO, sharded_model, extra={"consolidated.safetensors": b"\0" * 1000})
    pulled = pull(REPO)
    shards = sorted(p.name for p in sharded_model.glob("model-*.safetensors"))
    assert len(shards) >= 2
    assert set(shards) | {"model.safetensors.index.json"} <= set(pulled.files)
    assert not hub.gets("consolidated.safetensors")


def test_pickle_weights_only_with_explicit_permission(hub, tiny_model, tmp_path):
    folder = tmp_path / "bin-only"
    folder.mkdir()
    for name in ("config.json", "tokenizer.json"):
        (folder / name).write_bytes((tiny_model / name).read_bytes())
    hub.add_folder(REPO, folder, extra={"pytorch_model.bin": b"not really a pickle" * 100})

    with pytest.raises(DownloadError, match="only pickle weights.*--allow-pickle"):
        pull(REPO)
    assert not hub.gets("pytorch_model.bin")
    pulled = pull(REPO, allow_pickle=True)
    assert (pulled.path / "pytorch_model.bin").exists()


def test_a_gated_repository_needs_a_token_from_hf_token(hub, tiny_model, monkeypatch):
    hub.add_folder(REPO, tiny_model, gated_token="hf_secret_token_123")

    with pytest.raises(AccessDenied, match="gated.*HF_TOKEN") as denied:
        pull(REPO)
    monkeypatch.setenv("HF_TOKEN", "hf_wrong_token_456")
    with pytest.raises(AccessDenied) as wrong:
        pull(REPO)
    assert "hf_wrong_token_456" not in str(wrong.value) and "hf_secret" not in str(denied.value)

    monkeypatch.setenv("HF_TOKEN", "hf_secret_token_123")
    assert (pull(REPO).path / "model.safetensors").exists()


def test_unknown_repository_and_revision(hub, tiny_model):
    hub.add_folder(REPO, tiny_model)
    with pytest.raises(RepoNotFound, match="no repository nobody/nothing on http://127.0.0.1"):
        pull("nobody/nothing")
    with pytest.raises(RepoNotFound, match="has no revision 'v9'"):
        pull(f"{REPO}@v9")


def test_no_network_and_offline_mode(monkeypatch):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    with pytest.raises(HubUnreachable, match=f"cannot reach http://127.0.0.1:{port}.*network"):
        pull(REPO)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(HubUnreachable, match="HF_HUB_OFFLINE is set"):
        pull(REPO)


def test_a_download_that_cannot_fit_on_the_disk_is_refused_before_it_starts(hub, tiny_model):
    hub.add_folder(REPO, tiny_model, declared_sizes={"model.safetensors": 10**18})
    with pytest.raises(DiskFull, match="not enough disk space.*free"):
        pull(REPO)
    assert not hub.gets("model.safetensors")


@pytest.mark.parametrize(
    "text", ["../etc", "org/../x", "a/b/c", "org--x/y", "", "org/name@../../x", "org/name@main/../..", "-x/y", "org/x.git"]
)
def test_names_and_revisions_that_could_escape_the_cache_are_refused(text):
    with pytest.raises(DownloadError):
        parse_spec(text)


def test_short_names_and_revisions_parse():
    assert parse_spec("gpt2").repo_id == "openai-community/gpt2"
    spec = parse_spec("org/name@refs/pr/1")
    assert (spec.repo_id, spec.revision, str(spec)) == ("org/name", "refs/pr/1", "org/name@refs/pr/1")
    assert hubmod.format_bytes(548_000_000) == "548 MB" and hubmod.format_bytes(1_520_000_000) == "1.5 GB"


def test_a_server_that_ignores_range_requests_gets_the_whole_file_again(hub, tiny_model):
    hub.add_folder(REPO, tiny_model, ranges=False)
    hub.cut("model.safetensors", after_bytes=1_200_000)
    with pytest.raises(TransferInterrupted):
        pull(REPO, retries=0)

    pulled = pull(REPO)

    assert hub.gets("model.safetensors")[-1].range is not None  # asked to resume, got 200 and the whole file
    assert sha256(pulled.path / "model.safetensors") == sha256(tiny_model / "model.safetensors")


def test_a_corrupted_transfer_is_caught_by_its_checksum_and_deleted(hub, tiny_model):
    hub.add_folder(REPO, tiny_model)
    hub.corrupt("model.safetensors")
    with pytest.raises(DownloadError, match="model.safetensors arrived corrupted"):
        pull(REPO)
    storage = hf_cache_dir() / "models--tiny-org--tiny-gpt2"
    assert not list(storage.glob("blobs/*.incomplete")) and not (storage / "refs" / "main").exists()
