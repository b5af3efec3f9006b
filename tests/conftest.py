"""Fixtures shared by every test: a private SCRIBE_HOME per test, a tiny tokenizer and a tiny random GPT-2 built once
per session by scribe's own tokenizer trainer and transformers' save code, and (on request) a private Hugging Face
cache and a hub on 127.0.0.1.

Nothing here reads outside the repository: the only data are the public-domain texts in `tests/data/`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/, for the test servers
from servers.hub_server import HubServer  # noqa: E402  (needs the sys.path line above)

DATA = Path(__file__).resolve().parent / "data"
SHAKESPEARE = DATA / "tinyshakespeare.txt"
GUTENBERG = DATA / "gutenberg"
TINY_VOCAB = 1024
"""The tiny tokenizer's size: every byte, `<|endoftext|>` and 767 merges learned from 40,000 characters."""

RandomGpt2 = Callable[..., Path]


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """`tests/data`: small public-domain texts (see its README)."""
    return DATA


@pytest.fixture(scope="session")
def shakespeare_text() -> str:
    """Tiny Shakespeare (1.1 MB), from `tests/data`."""
    return SHAKESPEARE.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def tiny_tokenizer_dir(tmp_path_factory: pytest.TempPathFactory, shakespeare_text: str) -> Path:
    """A GPT-2-style byte-level BPE tokenizer (1,024 tokens, `<|endoftext|>` as bos/eos/unk) trained by scribe's own
    trainer on 40,000 characters of Tiny Shakespeare, saved by `save_pretrained`; read-only."""
    from scribe.training.bpe import train_bpe
    from scribe.training.corpus import Document

    folder = tmp_path_factory.mktemp("tiny-tokenizer")
    train_bpe([Document(SHAKESPEARE, shakespeare_text[:40_000])], vocab_size=TINY_VOCAB).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def bare_tokenizer_dir(tmp_path_factory: pytest.TempPathFactory, tiny_tokenizer_dir: Path) -> Path:
    """The tiny tokenizer as a bare GPT-2 folder: `vocab.json` + `merges.txt` only (the layout OpenAI published)."""
    folder = tmp_path_factory.mktemp("bare-tokenizer")
    model = json.loads((tiny_tokenizer_dir / "tokenizer.json").read_text(encoding="utf-8"))["model"]
    (folder / "vocab.json").write_text(json.dumps(model["vocab"], ensure_ascii=False), encoding="utf-8")
    merges = [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def random_gpt2(tiny_tokenizer_dir: Path) -> RandomGpt2:
    """A function saving a seeded random GPT-2 into a folder with transformers' `save_pretrained` (safetensors), with
    a tokenizer: `random_gpt2(folder, tokenizer_dir=None, **config)`, config being GPT2Config fields. The vocabulary
    size and the bos/eos ids default to the tokenizer's (the tiny tokenizer unless `tokenizer_dir` is given)."""

    def save(folder: Path, tokenizer_dir: Path | None = None, **config: object) -> Path:
        import torch
        from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

        tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir or tiny_tokenizer_dir)
        config.setdefault("vocab_size", len(tokenizer))
        config.setdefault("bos_token_id", tokenizer.eos_token_id)
        config.setdefault("eos_token_id", tokenizer.eos_token_id)
        save_options = config.pop("save_options", {})
        torch.manual_seed(0)
        GPT2LMHeadModel(GPT2Config(**config)).save_pretrained(folder, **save_options)
        tokenizer.save_pretrained(folder)
        return Path(folder)

    return save


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory, random_gpt2: RandomGpt2) -> Path:
    """A tiny random GPT-2 (1 layer, 1 head, 2-dim embeddings, 1,024 positions, the tiny tokenizer) saved as
    safetensors: it generates noise, quickly, through the real load and generate paths; read-only."""
    folder = tmp_path_factory.mktemp("tiny") / "tiny-random-gpt2"
    return random_gpt2(folder, n_layer=1, n_head=1, n_embd=2, n_positions=1024)


@pytest.fixture(autouse=True)
def scribe_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own SCRIBE_HOME, so no test reads or writes the real settings."""
    home = tmp_path / "scribe-home"
    monkeypatch.setenv("SCRIBE_HOME", str(home))
    return home


@pytest.fixture
def hf_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private Hugging Face cache (HF_HOME), with no token and no offline switch."""
    home = tmp_path / "hf-home"
    monkeypatch.setenv("HF_HOME", str(home))
    for name in ("HF_HUB_CACHE", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def hub(hf_home: Path, monkeypatch: pytest.MonkeyPatch):
    """A hub on 127.0.0.1 (HF_ENDPOINT points at it) downloading into `hf_home`; add repositories with
    `hub.add_folder`."""
    from huggingface_hub import constants

    # The CI runs with HF_HUB_OFFLINE=1, which huggingface_hub reads once at import; these tests talk to a local hub.
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    with HubServer() as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        yield server


@pytest.fixture
def char_gpt2(tmp_path: Path) -> Callable[..., Path]:
    """A function saving a random one-layer GPT-2 (`context` positions, width 16) with a character tokenizer over the
    text of `files` as a Hugging Face folder, `tmp_path/base`; its path."""

    def build(files: list[Path], context: int = 32) -> Path:
        import torch
        from transformers import GPT2Config, GPT2LMHeadModel

        from scribe.training.corpus import Document
        from scribe.training.dataset import char_tokenizer

        tokenizer = char_tokenizer([Document(p, p.read_text(encoding="utf-8")) for p in files])
        eos = tokenizer.eos_token_id
        torch.manual_seed(0)
        model = GPT2LMHeadModel(GPT2Config(vocab_size=len(tokenizer), n_positions=context, n_layer=1, n_head=2,
                                           n_embd=16, bos_token_id=eos, eos_token_id=eos))
        folder = tmp_path / "base"
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        return folder

    return build
