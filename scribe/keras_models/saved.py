"""A Keras model folder: `model.keras` (architecture, weights and optimizer state), `vocab.json`, `scribe-keras.json`
(architecture, preset, training progress), a model card `README.md`, and the training history `metrics.jsonl` with its
picture `curves.svg` (`scribe.training.curves`).

Writing goes to a temporary sibling folder that is then renamed into place, so a complete folder exists even when
training is stopped mid-save. Loading checks everything it can and raises ModelLoadError with what is wrong.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scribe.files import replace_folder
from scribe.types import ModelLoadError
from scribe.keras_models.architectures import LOGITS, Architecture, Preset, architecture
from scribe.keras_models.vocab import Vocab, VocabError

MODEL_FILE = "model.keras"
META_FILE = "scribe-keras.json"


@dataclass
class KerasFolder:
    """A loaded model with its vocabulary and metadata."""

    model: Any
    """The keras.Model."""
    vocab: Vocab
    meta: dict[str, Any]

    @property
    def arch(self) -> Architecture:
        return architecture(self.meta["architecture"])

    @property
    def shape(self) -> Preset:
        return Preset(**self.meta["shape"])


def read_meta(folder: Path) -> dict[str, Any]:
    """The folder's `scribe-keras.json` (ModelLoadError when missing or not scribe's)."""
    path = folder / META_FILE
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
        architecture(meta["architecture"])
        Preset(**meta["shape"])
    except FileNotFoundError:
        raise ModelLoadError(f"{path}: missing; this folder was not written by `scribe train --arch ...`") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelLoadError(f"{path}: not a valid scribe Keras description ({exc})") from None
    return meta


def check_folder(folder: Path) -> tuple[dict[str, Any], Vocab]:
    """The folder's metadata and vocabulary, after checking without Keras that the `.keras` archive opens and that its
    output layer predicts exactly the vocabulary's tokens (ModelLoadError saying what is wrong)."""
    folder = Path(folder)
    path = folder / MODEL_FILE
    if not path.is_file():
        raise ModelLoadError(f"{folder}: no {MODEL_FILE}")
    meta = read_meta(folder)
    try:
        vocab = Vocab.load(folder)
    except VocabError as exc:
        raise ModelLoadError(str(exc)) from None
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
        units = next(layer["config"]["units"] for layer in config["config"]["layers"] if layer["name"] == LOGITS)
    except (zipfile.BadZipFile, OSError, EOFError):
        raise ModelLoadError(f"{path}: corrupt or truncated (a .keras file is a zip archive; this one does not open)"
                             ) from None
    except (KeyError, ValueError, TypeError, StopIteration):
        raise ModelLoadError(f"{path}: not a model saved by scribe (no readable config.json with a logits layer)"
                             ) from None
    if units != len(vocab):
        raise ModelLoadError(f"{folder / 'vocab.json'}: the vocabulary has {len(vocab)} tokens but the model predicts "
                             f"{units}; the vocabulary does not belong to this model")
    return meta, vocab


def load_folder(folder: Path) -> KerasFolder:
    """Check the folder (`check_folder`), then load the model with Keras (imports Keras)."""
    folder = Path(folder)
    meta, vocab = check_folder(folder)
    from scribe.keras_models.env import import_keras

    keras = import_keras()
    if not architecture(meta["architecture"]).recurrent:
        import scribe.keras_models.layers  # noqa: F401 - registers the custom layers

    path = folder / MODEL_FILE
    try:
        model = keras.saving.load_model(path)
    except Exception as exc:
        first = next((line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
        raise ModelLoadError(f"{path}: cannot load this Keras model (corrupt or written by another version): "
                             f"{first[:200]}") from exc
    return KerasFolder(model, vocab, meta)


def save_folder(folder: Path, model: Any, vocab: Vocab, meta: dict[str, Any], extra: Callable[[Path], None]) -> None:
    """Write the complete folder next to `folder`, then swap it into place; `extra(tmp)` writes the model card and
    whatever else belongs with the model (the training history)."""

    def fill(tmp: Path) -> None:
        model.save(tmp / MODEL_FILE)
        vocab.save(tmp)
        (tmp / META_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")
        extra(tmp)

    replace_folder(folder, fill)
