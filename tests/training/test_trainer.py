"""The trainer in-process on real tiny models: resume equals an uninterrupted run, LoRA merges into a plain
transformers model that the model list shows, and bad input is refused with clear messages."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import torch
from huggingface_hub import ModelCard

from scribe.training.events import Checkpoint, Eval, Event, Started, Step
from scribe.training.finetune import TooBigForMemory
from scribe.training.trainer import TrainConfig, Trainer, TrainingError


@pytest.fixture(scope="module")
def text_file(shakespeare_text: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "slice.txt"
    path.write_text(shakespeare_text[:40_000])
    return path


@pytest.fixture
def base(tiny_model_dir: Path) -> str:
    return str(tiny_model_dir)


def config(data: Path, out: Path, **changes: object) -> TrainConfig:
    values: dict = dict(data=[str(data)], output=out / "model", job_dir=out / "job", context=32, batch_size=4,
                        max_steps=8, eval_every=3, log_every=1, eval_tokens=128, sample_tokens=4,
                        sample_temperatures=(1.0,), warmup_steps=2, threads=1)
    values.update(changes)
    return TrainConfig(**values)


def weights(folder: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(folder / "model.safetensors"))


def test_a_resumed_run_ends_where_an_uninterrupted_one_does(text_file: Path, tmp_path: Path) -> None:
    # with dropout, so the data order, the optimiser and the RNG state must all carry over
    settings = dict(preset="tiny", tokenizer="char", dropout=0.1, lr=1e-2)
    straight = Trainer(config(text_file, tmp_path / "a", **settings)).run()

    events: list[Event] = []
    cancel = threading.Event()

    def emit(event: Event) -> None:
        events.append(event)
        if isinstance(event, Step) and event.step == 5:
            cancel.set()

    first = Trainer(config(text_file, tmp_path / "b", **settings), emit, cancel=cancel).run()
    assert first.reason == "interrupted" and first.steps == 5
    assert [e.step for e in events if isinstance(e, Checkpoint)] == [3, 5]
    assert (tmp_path / "b" / "model" / "model.safetensors").exists()  # what was trained so far is saved too

    resumed_events: list[Event] = []
    resumed = Trainer(config(text_file, tmp_path / "b", resume=True, **settings), resumed_events.append).run()
    started = resumed_events[0]
    assert isinstance(started, Started) and started.resumed_from == 5
    assert [e.step for e in resumed_events if isinstance(e, Step)] == [6, 7, 8]
    assert resumed.reason == "max_steps" and resumed.steps == 8 and resumed.tokens == straight.tokens
    assert resumed.val_loss == pytest.approx(straight.val_loss, abs=1e-4)
    a, b = weights(tmp_path / "a" / "model"), weights(tmp_path / "b" / "model")
    assert a.keys() == b.keys()
    for name in a:
        assert (a[name] - b[name]).abs().max().item() < 1e-5, name


def test_resume_refuses_other_settings(text_file: Path, base: str, tmp_path: Path) -> None:
    with pytest.raises(TrainingError, match="nothing to resume"):
        Trainer(config(text_file, tmp_path, resume=True, preset="tiny", vocab_size=300)).run()
    Trainer(config(text_file, tmp_path, preset="tiny", tokenizer="char", max_steps=2)).run()
    with pytest.raises(TrainingError, match="different data or settings"):
        Trainer(config(text_file, tmp_path, preset="tiny", tokenizer="char", max_steps=4, lr=5e-3, resume=True)).run()


def test_lora_is_merged_into_a_plain_model_that_the_list_shows(text_file: Path, base: str, scribe_home: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from scribe.store.catalog import list_models

    out = scribe_home / "data" / "models" / "mine-lora"
    events: list[Event] = []
    finished = Trainer(config(text_file, scribe_home / "x", output=out, mode="lora", base=base, lr=5e-2, max_steps=4,
                              eval_every=2, log_every=2, lora_r=2), events.append).run()
    started = events[0]
    assert isinstance(started, Started) and started.mode == "lora" and started.base == base
    assert started.parameters < 102_640 / 10  # only the adapters train
    assert finished.base_perplexity is not None and finished.perplexity is not None
    assert [e.step for e in events if isinstance(e, Eval)] == [0, 2, 4]

    saved = weights(out)
    assert not [k for k in saved if "lora" in k] and saved.keys() == weights(Path(base)).keys()
    changed = (saved["transformer.h.0.attn.c_attn.weight"] - weights(Path(base))["transformer.h.0.attn.c_attn.weight"])
    assert changed.abs().max() > 1e-6
    model = AutoModelForCausalLM.from_pretrained(out)  # plain transformers, no peft
    tokenizer = AutoTokenizer.from_pretrained(out)
    prompt = tokenizer("ROMEO:", return_tensors="pt")
    assert model.generate(**prompt, max_new_tokens=3, min_new_tokens=3, do_sample=False,
                          pad_token_id=tokenizer.eos_token_id).shape[1] == prompt["input_ids"].shape[1] + 3
    card = (out / "README.md").read_text(encoding="utf-8")
    assert f"| base model | {Path(base).name} |" in card and "LoRA (r=2, alpha=16, dropout 0.05, base dropout 0;" in card
    assert f"| perplexity | {finished.perplexity:.2f} |" in card and "| steps | 4 of at most 4 |" in card
    assert "| hardware | " in card and "| wall time | " in card and f"`{text_file.name}`" in card
    assert str(text_file.parent) not in card and base not in card  # no local paths
    meta = ModelCard(card).data
    assert (meta.library_name, meta.pipeline_tag, meta.base_model, meta.license) == (
        "transformers", "text-generation", None, None)  # a local base folder is no Hub id; the licence is the writer's
    [entry] = [e for e in list_models(offered=False) if e.name == "mine-lora"]
    assert entry.source == "scribe" and entry.usable and entry.parameters == model.num_parameters()
    assert sorted(p.name for p in out.parent.iterdir()) == ["mine-lora"]  # no temporary folder left


def test_a_lora_run_in_bfloat16_merges_its_adapters_into_the_base_in_its_own_precision(
        text_file: Path, tmp_path: Path, random_gpt2) -> None:  # noqa: ANN001
    from safetensors.torch import load_file

    base = random_gpt2(tmp_path / "base", n_layer=2, n_head=2, n_embd=32, n_positions=64)
    events: list[Event] = []
    Trainer(config(text_file, tmp_path, mode="lora", base=str(base), lr=5e-2, max_steps=3, lora_r=2, lora_alpha=4,
                   precision="bfloat16"), events.append).run()
    started = events[0]
    assert isinstance(started, Started) and started.bfloat16 and started.how_steps_run() == "bfloat16 arithmetic"

    before, saved = weights(base), weights(tmp_path / "model")
    assert saved.keys() == before.keys() and {str(w.dtype) for w in saved.values()} == {"torch.float32"}
    for name in ("transformer.wpe.weight", "transformer.h.1.mlp.c_fc.bias", "transformer.ln_f.weight"):
        assert torch.equal(saved[name], before[name]), name  # frozen and unadapted: exactly the base's, not rounded
    adapters = load_file(str(tmp_path / "job" / "checkpoint" / "weights.safetensors"))
    layer = "base_model.model.transformer.h.1.attn.c_attn"
    a, b = adapters[f"{layer}.lora_A.default.weight"], adapters[f"{layer}.lora_B.default.weight"]
    merged = before["transformer.h.1.attn.c_attn.weight"] + (b @ a).T * (4 / 2)  # Conv1D: weights are [in, out]
    assert (b @ a).abs().max() > 1e-4
    assert torch.allclose(saved["transformer.h.1.attn.c_attn.weight"], merged, atol=1e-6)
    card = (tmp_path / "model" / "README.md").read_text(encoding="utf-8")
    assert "bfloat16 arithmetic (autocast), the trained weights kept in float32; the frozen base loaded in " \
           "bfloat16, the adapters merged into its own precision" in card


def test_a_base_model_too_big_for_memory_is_refused_before_loading(tmp_path: Path, base: str, random_gpt2) -> None:
    huge = tmp_path / "huge"
    huge.mkdir()
    cfg = json.loads((Path(base) / "config.json").read_text())
    (huge / "config.json").write_text(json.dumps(cfg | {"n_layer": 48, "n_embd": 6144, "n_head": 48}))
    with pytest.raises(TooBigForMemory, match=r"huge has 2[0-9,.]+M parameters: full fine-tuning needs about "
                       r"[0-9.]+ GB of memory, but [0-9.]+ [GM]B is available on cpu\. LoRA"):
        Trainer(config(tmp_path / "no-data-read-yet", tmp_path, mode="finetune", base=str(huge))).run()
    with pytest.raises(TooBigForMemory, match="needs about 2 MB of memory, but 1 MB is available"):
        small = random_gpt2(tmp_path / "small", n_embd=32, n_layer=2, n_head=2)  # 91,008 parameters
        Trainer(config(tmp_path / "x", tmp_path, mode="finetune", base=str(small), max_memory_gb=0.001)).run()


def test_text_shorter_than_one_block(tmp_path: Path) -> None:
    for name in ("a.txt", "b.txt"):
        (tmp_path / name).write_text("A short note.\n")
    with pytest.raises(TrainingError, match="shorter than one block of 33: add text or lower --context"):
        Trainer(config(tmp_path, tmp_path / "out", preset="tiny", tokenizer="char")).run()
    assert not (tmp_path / "out" / "model").exists()


def test_early_stopping_keeps_the_best_weights(text_file: Path, tmp_path: Path) -> None:
    events: list[Event] = []
    finished = Trainer(config(text_file, tmp_path, preset="tiny", tokenizer="char", lr=0.5, warmup_steps=1,
                              max_steps=40, eval_every=2, patience=2), events.append).run()
    evals = [e for e in events if isinstance(e, Eval)]
    assert finished.reason == "early_stop" and finished.steps < 40
    best = min(evals, key=lambda e: e.val_loss)
    assert finished.val_loss == best.val_loss and evals[-1].val_loss > best.val_loss
    card = (tmp_path / "model" / "README.md").read_text(encoding="utf-8")
    assert f"({best.step})" in card.replace("step ", "") and "early stopping after 2 evaluations" in card


def test_an_unknown_base_model_says_where_it_looked(tmp_path: Path) -> None:
    from scribe.engine.base import ModelNotFound

    with pytest.raises(ModelNotFound, match="no model 'no-such-model'"):
        Trainer(config(tmp_path / "x", tmp_path, mode="lora", base="no-such-model")).run()
