"""Model names are names: the checks that keep `train --name`, `--overwrite` and `models rm` inside what the writer
meant. A name is one plain folder name in the models folder (no separators, no `.`/`..`, not absolute, not hidden);
an existing folder is replaced only when it is a model folder; a deletion says what it removes and how much space it
frees before it asks."""

from __future__ import annotations

from pathlib import Path

from scribe.store.hub import folder_size, format_bytes

MAX_NAME = 100


class BadModelName(ValueError):
    """A model name that is a path, or a folder that must not be replaced or deleted; the message says why."""


def check_model_name(name: str) -> str:
    """`name` when it is a plain model name; BadModelName (one line, naming it) otherwise."""
    reason = None
    if not name or not name.strip():
        reason = "is empty"
    elif name in (".", ".."):
        reason = "is a folder reference, not a name"
    elif "/" in name or "\\" in name:
        reason = "contains a path separator"
    elif name.startswith((".", "~", "-")):
        reason = f"starts with {name[0]!r}"
    elif any(ord(c) < 32 or c == "\x7f" for c in name):
        reason = "contains control characters"
    elif len(name) > MAX_NAME:
        reason = f"is longer than {MAX_NAME} characters"
    elif ":" in name:
        reason = "contains ':'"
    if reason:
        raise BadModelName(f"model name {name!r} {reason}: use a plain name such as 'my-novel-model' (to write "
                           "somewhere else, use --output FOLDER)")
    return name


def check_listed_name(name: str) -> str:
    """`name` when it can be a name from `scribe models list` (a Hugging Face id has one '/'); BadModelName for a
    path: absolute, with '.' or '..' parts, starting with '~', or with a backslash."""
    parts = name.split("/")
    if (not name or name.startswith(("/", "~")) or "\\" in name or any(p in ("", ".", "..") for p in parts)
            or len(parts) > 2):
        raise BadModelName(f"{name!r} is a path, not a model name: give a name from `scribe models list`")
    return name


def inside(folder: Path, root: Path) -> Path:
    """`folder` resolved (links followed) when it lies in `root`; BadModelName when it resolves outside."""
    resolved = folder.resolve()
    if resolved == root.resolve() or not resolved.is_relative_to(root.resolve()):
        raise BadModelName(f"{folder} resolves to {resolved}, outside the models folder {root}; not touched")
    return resolved


def is_model_folder(folder: Path) -> bool:
    """True for a folder scribe wrote a model (or a training run) into: a config.json, a Keras model, or the
    checkpoint of an unfinished run."""
    return ((folder / "config.json").is_file() or any(folder.glob("*.keras"))
            or (folder / "scribe-keras.json").is_file() or (folder / "checkpoint").is_dir())


def describe_folder_use(folder: Path) -> str:
    """`folder (N MB)`: what removing or replacing it frees."""
    return f"{folder} ({format_bytes(folder_size(folder))})"


def check_training_output(output: Path, name: str | None, *, overwrite: bool, resume: bool) -> str | None:
    """Check where a training run writes: the --name must be a name, and an existing non-empty folder is used only
    with --resume, or replaced with --overwrite when it is a model folder. Returns what --overwrite replaces (one
    line to show), or None; BadModelName otherwise."""
    if name is not None:
        check_model_name(name)
    if not output.exists() or (output.is_dir() and not any(output.iterdir())):
        return None
    if not output.is_dir():
        raise BadModelName(f"{output} is a file, not a model folder; not replaced (choose another --name/--output)")
    if resume:
        return None
    if not overwrite:
        raise BadModelName(f"{output} already exists (use --overwrite to replace it, or --name/--output)")
    if not is_model_folder(output):
        raise BadModelName(f"{output} is not a model folder (no config.json, Keras model or checkpoint); --overwrite "
                           "replaces only models: choose another --name/--output")
    return f"replacing the model in {describe_folder_use(output)}"
