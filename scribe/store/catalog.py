"""Every model the writer can pick, in one list: bundled, scribe-trained, GGUF files (in scribe's models folder and the
folders named by the `gguf_folders` setting), in the Hugging Face cache, remote, and offered for download (the GPT-2
family, with known download sizes).

Each entry says what it is without loading weights: size on disk, parameter count (summed from the safetensors
headers), context length (config.json), tokenizer and location. A folder that lacks its config, its weights (every
shard of an index) or its tokenizer is listed as incomplete and never as usable; a download in progress or interrupted
looks like that. Nothing here imports torch or touches the network.

Which backend a file or folder belongs to is decided in one place, each backend's `detect` asked through the registry
(`scribe.backend_plugins.detect_kind`, which imports a backend's module only to ask it).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from scribe.backend_plugins import FALLBACK_KIND, detect_kind
from scribe.config import Paths, hf_cache_dir
from scribe.context_length import gguf_context_length, hf_context_length, keras_context_length
from scribe.types import ModelNotFound
from scribe.store.bundled import bundled_models_dir
from scribe.store.hub import folder_size, format_bytes
from scribe.store.known import KNOWN_MODELS, known_model
from scribe.store.remotes import REMOTE_PREFIX, load_remotes

Source = Literal["bundled", "scribe", "gguf-folder", "hf-cache", "remote", "offered"]
GGUF_MAGIC = b"GGUF"
"""The first bytes of every GGUF file."""

_TOKENIZER_FILES = (("tokenizer.json",), ("vocab.json", "merges.txt"), ("tokenizer.model",), ("spiece.model",), ("vocab.txt",))


@dataclass(frozen=True)
class CatalogEntry:
    """One model in the list."""

    name: str
    """What to pass to `--model` (or pick in the TUI)."""
    source: Source
    kind: str
    """The backend that loads it: transformers, keras, gguf or remote."""
    location: str
    """Folder, or URL for a remote endpoint."""
    usable: bool
    """False for incomplete folders and for models not downloaded yet."""
    status: str
    """ready, incomplete (and why), not downloaded, or configured."""
    size_bytes: int | None = None
    """Bytes on disk; for an offered model, the download size."""
    size_is_download: bool = False
    """True when size_bytes is a known download size (from scribe's table), not bytes on disk."""
    parameters: int | None = None
    context_length: int | None = None
    tokenizer: str | None = None
    description: str = ""
    aliases: tuple[str, ...] = ()
    """Other names that mean this model (gpt2 for openai-community/gpt2)."""


def list_models(*, offered: bool = True, gguf_folders: Sequence[str] | None = None) -> list[CatalogEntry]:
    """Every model: bundled, scribe-trained, GGUF files in scribe's models folder and in `gguf_folders` (default: the
    settings file's), Hugging Face cache, remote endpoints, then (with `offered`) the GPT-2 family members not
    downloaded yet. A named folder that does not exist is skipped (a disk not mounted)."""
    if gguf_folders is None:
        from scribe.config import load_settings

        gguf_folders = load_settings().gguf_folders
    models = Paths.discover().models
    entries = [
        *_folder_entries(bundled_models_dir(), "bundled"),
        *_folder_entries(models, "scribe"),
        *gguf_entries(models, "scribe"),
        *(entry for folder in gguf_folders for entry in gguf_entries(Path(folder).expanduser(), "gguf-folder")),
        *_hf_entries(hf_cache_dir()),
        *_remote_entries(),
    ]
    if offered:
        have = {e.name for e in entries if e.usable}
        entries += [_offered_entry(m) for m in KNOWN_MODELS if m.repo_id not in have]
    return entries


def find_model(name: str) -> CatalogEntry:
    """The entry called `name` (or having it as an alias); ModelNotFound when there is none."""
    entries = list_models()
    for entry in entries:
        if name == entry.name or name in entry.aliases:
            return entry
    raise ModelNotFound(f"no model {name!r} in the list (see `scribe models list`)")


def describe_folder(folder: Path) -> dict[str, Any]:
    """Parameter count, context length, tokenizer and completeness of a model folder, read from its files."""
    if _kind(folder) == "keras":
        return _describe_keras(folder)
    config = _read_json(folder / "config.json") or {}
    usable, status = folder_status(folder)
    return {
        "usable": usable,
        "status": status,
        "parameters": safetensors_parameters(folder) if usable else None,
        "context_length": hf_context_length(config),
        "tokenizer": tokenizer_description(folder, config),
    }


def folder_status(folder: Path) -> tuple[bool, str]:
    """(usable, "ready") for a complete model folder, else (False, "incomplete: what is missing")."""
    if _kind(folder) == "keras":
        details = _describe_keras(folder)
        return details["usable"], details["status"]
    if not (folder / "config.json").is_file():
        return False, "incomplete: no config.json"
    missing = _missing_weights(folder)
    if missing:
        return False, f"incomplete: {missing}"
    if not any(all((folder / f).is_file() for f in group) for group in _TOKENIZER_FILES):
        return False, "incomplete: no tokenizer files"
    return True, "ready"


def safetensors_parameters(folder: Path) -> int | None:
    """Number of weights in the folder's safetensors files, from their headers (no tensor is loaded); None when there
    are none or one cannot be read."""
    from safetensors import SafetensorError, safe_open

    files = _weight_files(folder, ".safetensors")
    if not files:
        return None
    total = 0
    try:
        for path in files:
            with safe_open(path, framework="numpy") as f:
                total += sum(math.prod(f.get_slice(key).get_shape()) for key in f.keys())
    except (OSError, SafetensorError):
        return None
    return total


def tokenizer_description(folder: Path, config: dict[str, Any] | None = None) -> str | None:
    """The tokenizer class (or kind, from its files) and vocabulary size, e.g. "GPT2Tokenizer, 50257 tokens"."""
    config = config if config is not None else _read_json(folder / "config.json") or {}
    tok_config = _read_json(folder / "tokenizer_config.json") or {}
    name = tok_config.get("tokenizer_class")
    if not isinstance(name, str):
        if (folder / "tokenizer.json").is_file():
            model = (_read_json(folder / "tokenizer.json") or {}).get("model") or {}
            name = f"{model.get('type', 'fast')} tokenizer"
        elif (folder / "vocab.json").is_file() and (folder / "merges.txt").is_file():
            name = "BPE tokenizer"
        elif (folder / "tokenizer.model").is_file() or (folder / "spiece.model").is_file():
            name = "SentencePiece tokenizer"
        else:
            return None
    vocab = config.get("vocab_size")
    return f"{name}, {vocab} tokens" if isinstance(vocab, int) else name


COLUMNS = ("name", "source", "status", "size", "params", "context", "tokenizer", "location")
"""The columns of the model list (`scribe models list`, the TUI's model picker)."""


def entry_row(entry: CatalogEntry) -> tuple[str, ...]:
    """An entry's cells under COLUMNS ("-" for what is unknown; the status without its advice)."""
    return (
        entry.name + (f" ({', '.join(entry.aliases)})" if entry.aliases and entry.source != "offered" else ""),
        entry.source,
        entry.status.split(";")[0],
        size_label(entry),
        count_label(entry.parameters),
        str(entry.context_length or "-"),
        entry.tokenizer or "-",
        entry.location,
    )


def size_label(entry: CatalogEntry) -> str:
    """Bytes on disk, or the download size of a model offered for download ("548 MB download")."""
    if entry.size_bytes is None:
        return "-"
    return f"{format_bytes(entry.size_bytes)} download" if entry.size_is_download else format_bytes(entry.size_bytes)


def count_label(n: int | None) -> str:
    """A parameter count for people: 124.4M, 1.56B ("-" when unknown)."""
    if not n:
        return "-"
    return f"{n / 1e9:.2f}B" if n >= 1e9 else f"{n / 1e6:.1f}M" if n >= 1e6 else f"{n / 1e3:.1f}k"


def _kind(path: Path) -> str | None:
    """The backend that claims the file or folder `path` (each backend's `detect`, through the registry), or None."""
    return detect_kind(path)


def _describe_keras(folder: Path) -> dict[str, Any]:
    """What scribe's Keras folder says about itself (`scribe-keras.json`, vocab.json), checked without Keras."""
    from scribe.types import ModelLoadError
    from scribe.keras_models.saved import check_folder

    try:
        meta, vocab = check_folder(folder)
    except ModelLoadError as exc:
        return {"usable": False, "status": f"incomplete: {exc}"}
    parameters = meta.get("parameters")
    return {
        "usable": True,
        "status": "ready",
        "parameters": parameters if isinstance(parameters, int) else None,
        "context_length": keras_context_length(meta),
        "tokenizer": f"{vocab.kind} vocabulary, {len(vocab)} tokens",
        "description": f"Keras {meta['architecture']} ({meta.get('preset', '?')})",
    }


def _missing_weights(folder: Path) -> str | None:
    """What is missing of the folder's weights, or None when they are all there."""
    for index_name in ("model.safetensors.index.json", "pytorch_model.bin.index.json"):
        if (folder / index_name).exists():
            index = _read_json(folder / index_name)
            if not index or not isinstance(index.get("weight_map"), dict):
                return f"unreadable {index_name}"
            absent = sorted({str(v) for v in index["weight_map"].values() if not (folder / str(v)).is_file()})
            return f"{len(absent)} weight file(s) missing ({absent[0]}...)" if absent else None
    if (folder / "model.safetensors").is_file() or (folder / "pytorch_model.bin").is_file():
        return None
    return "no weights (model.safetensors)"


def _weight_files(folder: Path, suffix: str) -> list[Path]:
    """The weight files of a folder with this suffix: the index's shards, or the single file."""
    stem = "model" if suffix == ".safetensors" else "pytorch_model"
    index = _read_json(folder / f"{stem}{suffix}.index.json")
    if index and isinstance(index.get("weight_map"), dict):
        return [folder / name for name in sorted({str(v) for v in index["weight_map"].values()})]
    single = folder / f"{stem}{suffix}"
    return [single] if single.is_file() else []


def _folder_entries(root: Path, source: Source) -> Iterator[CatalogEntry]:
    if not root.is_dir():
        return
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        kind = _kind(folder)
        if kind is None or kind == "gguf":  # not a model, or GGUF files, which `gguf_entries` lists one by one
            continue
        details = describe_folder(folder) if kind in ("transformers", "keras") else {
            "usable": True, "status": "ready", "description": f"a {kind} model (its backend checks it when it loads)"}
        yield CatalogEntry(
            name=folder.name, source=source, kind=kind, location=str(folder), size_bytes=folder_size(folder), **details,
        )


def gguf_entries(root: Path, source: Source) -> Iterator[CatalogEntry]:
    """One entry per GGUF model file under `root` and its subfolders (a split model once, by its first part); files
    that do not start with the GGUF magic bytes are listed as not usable."""
    for path in gguf_files(root):
        yield _gguf_entry(str(path), path, source)


def gguf_files(root: Path) -> list[Path]:
    """The GGUF model files under `root` and its subfolders, sorted (of a split model, its first part only)."""
    if not root.is_dir():
        return []
    return [path for path in sorted(root.rglob("*.gguf")) if path.is_file()
            and ("-of-" not in path.stem or path.stem.split("-of-")[0].endswith("00001"))]


def _gguf_entry(name: str, path: Path, source: Source) -> CatalogEntry:
    try:
        with open(path, "rb") as handle:
            usable = handle.read(4) == GGUF_MAGIC
        size = path.stat().st_size
    except OSError as exc:
        return CatalogEntry(name=name, source=source, kind="gguf", location=str(path), usable=False,
                            status=f"unreadable: {exc.strerror or exc}")
    details = gguf_metadata(path) if usable else {}
    return CatalogEntry(name=name, source=source, kind="gguf", location=str(path), usable=usable,
                        status="ready" if usable else "not a GGUF file (no GGUF header)", size_bytes=size,
                        **{"description": f"GGUF file {path.name}", **details})


def gguf_metadata(path: Path) -> dict[str, Any]:
    """Parameters, context length, tokenizer and whether it has a chat template, from a GGUF file's header (read
    with the `gguf` package, which maps the file without reading its weights); {} when it cannot be read."""
    try:
        from gguf import GGUFReader
    except ImportError:
        return {}
    try:
        reader = GGUFReader(path)
        fields = reader.fields

        def text(key: str) -> str | None:
            field = fields.get(key)
            return bytes(field.parts[-1]).decode("utf-8") if field is not None else None

        architecture = text("general.architecture") or "?"
        tokens = fields.get("tokenizer.ggml.tokens")
        vocabulary = f"{text('tokenizer.ggml.model') or 'gguf'} tokenizer"
        chat = "chat template" if fields.get("tokenizer.chat_template") is not None else "no chat template (a base model)"
        return {
            "parameters": sum(int(tensor.n_elements) for tensor in reader.tensors) or None,
            "context_length": gguf_context_length(fields) if "general.architecture" in fields else None,
            "tokenizer": f"{vocabulary}, {len(tokens.data)} tokens" if tokens is not None else vocabulary,
            "description": f"GGUF file {path.name}: {architecture}, {chat}",
        }
    except (KeyError, ValueError, IndexError, OSError, UnicodeDecodeError):
        return {}


def _hf_entries(cache: Path) -> Iterator[CatalogEntry]:
    """One entry per ref (main shows as the bare repository id) and per snapshot no ref points to; a snapshot no
    backend claims (an incomplete download) is the registry's FALLBACK_KIND, whose loader says what is missing."""
    if not cache.is_dir():
        return
    for storage in sorted(cache.glob("models--*")):
        repo_id = storage.name.removeprefix("models--").replace("--", "/")
        size = folder_size(storage)
        refs = {
            ref.relative_to(storage / "refs").as_posix(): ref.read_text(encoding="utf-8").strip()
            for ref in sorted((storage / "refs").rglob("*")) if ref.is_file()
        } if (storage / "refs").is_dir() else {}
        snapshots = sorted(p for p in (storage / "snapshots").iterdir() if p.is_dir()) if (storage / "snapshots").is_dir() else []
        named = [(repo_id if ref == "main" else f"{repo_id}@{ref}", storage / "snapshots" / commit) for ref, commit in refs.items()]
        named += [(f"{repo_id}@{s.name}", s) for s in snapshots if s.name not in refs.values()]
        if not named:
            named = [(repo_id, storage / "snapshots" / "(none)")]
        known = known_model(repo_id)
        for name, snapshot in named:
            ggufs = _snapshot_ggufs(snapshot)
            if ggufs:  # a pulled quantisation: the repository id names it when it is the only one
                for path in ggufs:
                    yield _gguf_entry(name if len(ggufs) == 1 else str(path), path, "hf-cache")
                continue
            details = describe_folder(snapshot) if snapshot.is_dir() else {"usable": False, "status": "incomplete: no files yet"}
            if not details["usable"] and any(storage.glob("blobs/*.incomplete")):
                details["status"] += f"; partial download kept: `scribe models pull {name}` resumes it"
            yield CatalogEntry(
                name=name, source="hf-cache", kind=_kind(snapshot) or FALLBACK_KIND, location=str(snapshot),
                size_bytes=size,
                aliases=(known.name,) if known and name == repo_id else (), **details,
            )


def _snapshot_ggufs(snapshot: Path) -> list[Path]:
    """The GGUF files of a cached snapshot the GGUF backend claims (a GGUF repository), else []."""
    if not snapshot.is_dir() or _kind(snapshot) != "gguf":
        return []
    return gguf_files(snapshot)


def _remote_entries() -> Iterator[CatalogEntry]:
    for remote in load_remotes().values():
        yield CatalogEntry(
            name=REMOTE_PREFIX + remote.name, source="remote", kind="remote", location=remote.base_url, usable=True,
            status="configured", context_length=remote.context_length, tokenizer="on the server",
            description=f"model {remote.model!r} on a {remote.server} server"
            + (f"; API key from ${remote.api_key_env}" if remote.api_key_env else ""),
        )


def _offered_entry(model) -> CatalogEntry:
    return CatalogEntry(
        name=model.name, source="offered", kind="transformers", location=model.repo_id, usable=False,
        status="not downloaded", size_bytes=model.download_bytes, size_is_download=True, parameters=model.parameters,
        context_length=model.context_length, tokenizer=model.tokenizer, description=model.description,
        aliases=(model.repo_id,),
    )


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None

