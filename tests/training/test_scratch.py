"""A real `tiny` from-scratch run on a slice of Tiny Shakespeare: loss falls, the folder loads with plain
transformers and generates, the card carries the numbers, events arrive in order."""

from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from scribe.training.corpus import Document
from scribe.training.dataset import split_corpus, split_documents
from scribe.training.events import Eval, Event, Finished, Sample, Saved, Started, Step, parse_event
from scribe.training.trainer import TrainConfig, Trainer, TrainingError

STEPS = 60


@dataclass
class Run:
    config: TrainConfig
    events: list[Event]
    finished: Finished


def tiny_config(data: Path, output: Path, **changes: object) -> TrainConfig:
    values: dict = dict(
        data=[str(data)], output=output, job_dir=output.parent / "job", preset="tiny", vocab_size=512, context=64,
        batch_size=8, lr=3e-3, warmup_steps=5, max_steps=STEPS, eval_every=30, log_every=10, eval_tokens=2048,
        sample_tokens=12, threads=1, command="scribe train slice.txt --preset tiny",
    )
    values.update(changes)
    return TrainConfig(**values)


@pytest.fixture(scope="module")
def slice_file(shakespeare_text: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "slice.txt"
    path.write_text(shakespeare_text[:300_000])
    return path


@pytest.fixture(scope="module")
def run(slice_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Run:
    config = tiny_config(slice_file, tmp_path_factory.mktemp("models") / "tiny-shakespeare")
    events: list[Event] = []
    finished = Trainer(config, events.append).run()
    return Run(config, events, finished)


def test_events_arrive_in_order_and_survive_json(run: Run) -> None:
    kinds = [e.kind for e in run.events]
    assert kinds[0] == "started" and kinds[-1] == "finished"
    eval_block = ["eval", "sample", "sample", "sample", "checkpoint"]
    assert kinds == ["started"] + ["step"] * 3 + eval_block + ["step"] * 3 + eval_block + ["saved", "finished"]
    assert [e.step for e in run.events if isinstance(e, Step)] == [10, 20, 30, 40, 50, 60]
    assert [e.temperature for e in run.events if isinstance(e, Sample)] == [0.5, 0.8, 1.0] * 2
    assert all(parse_event(e.to_json()) == e for e in run.events)
    started = run.events[0]
    assert isinstance(started, Started) and started.vocab_size == 512 and started.parameters > 0


def test_loss_goes_down(run: Run) -> None:
    steps = [e for e in run.events if isinstance(e, Step)]
    evals = [e for e in run.events if isinstance(e, Eval)]
    assert steps[-1].loss < steps[0].loss - 0.5
    assert evals[-1].val_loss < evals[0].val_loss
    assert evals[-1].val_loss < math.log(512)  # better than uniform over the vocabulary
    final = evals[-1]
    assert final.perplexity == pytest.approx(math.exp(final.val_loss), rel=1e-3)
    assert run.finished.reason == "max_steps" and run.finished.steps == STEPS
    assert run.finished.tokens == STEPS * 8 * 64
    assert run.finished.val_loss == final.val_loss and run.finished.bits_per_char == final.bits_per_char
    assert 0 < final.bits_per_char < final.val_loss / math.log(2)  # several characters per token


def test_folder_loads_with_plain_transformers_and_generates(run: Run) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    out = run.config.output
    assert {"config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
            "README.md"} <= {p.name for p in out.iterdir()}
    assert sorted(p.name for p in out.parent.iterdir()) == ["job", out.name]  # no temporary or old folders left
    model = AutoModelForCausalLM.from_pretrained(out)
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert model.config.model_type == "gpt2" and model.config.n_layer == 2 and model.config.n_embd == 64
    assert model.config.vocab_size == len(tokenizer) == 512
    generation = GenerationConfig.from_pretrained(out)
    assert generation.do_sample and generation.temperature == 0.8 and generation.top_k == 40
    prompt = tokenizer("ROMEO:\n", return_tensors="pt")
    torch.manual_seed(0)
    output = model.generate(**prompt, max_new_tokens=10, min_new_tokens=10, pad_token_id=tokenizer.eos_token_id)
    assert output.shape[1] == prompt["input_ids"].shape[1] + 10
    assert tokenizer.decode(output[0]).startswith("ROMEO:\n")


def test_model_card_has_the_numbers(run: Run) -> None:
    card = (run.config.output / "README.md").read_text(encoding="utf-8")
    final = run.finished
    assert f"| validation loss | {final.val_loss:.4f} nats/token (step {STEPS}) |" in card
    assert f"| perplexity | {final.perplexity:.2f} |" in card
    assert f"| bits per character | {final.bits_per_char:.4f} |" in card
    assert f"| steps | {STEPS} of at most {STEPS} |" in card
    assert f"| tokens trained on | {final.tokens:,} |" in card
    assert "| base model | none (from scratch) |" in card and "trained from scratch (preset `tiny`)" in card
    assert "torch threads" in card and "torch 2." in card
    assert "scribe train slice.txt --preset tiny" in card
    assert "slice.txt` (300,000 bytes, utf-8)" in card  # each file with its encoding
    started = run.events[0]
    assert isinstance(started, Started) and f"{started.parameters:,} parameters" in card


def test_interrupt_saves_what_was_trained(slice_file: Path, tmp_path: Path) -> None:
    events: list[Event] = []
    cancel = threading.Event()

    def emit(event: Event) -> None:
        events.append(event)
        if isinstance(event, Step) and event.step == 20:
            cancel.set()

    finished = Trainer(tiny_config(slice_file, tmp_path / "m", eval_every=1000), emit, cancel=cancel).run()
    assert finished.reason == "interrupted" and finished.steps == 20
    assert [e.kind for e in events][-7:] == ["eval", "sample", "sample", "sample", "checkpoint", "saved", "finished"]
    assert json.loads((tmp_path / "m" / "config.json").read_text())["model_type"] == "gpt2"


def test_wall_clock_budget_stops_after_at_least_one_step(slice_file: Path, tmp_path: Path) -> None:
    events: list[Event] = []
    config = tiny_config(slice_file, tmp_path / "m", max_minutes=1e-6, sample_temperatures=(1.0,))
    finished = Trainer(config, events.append).run()
    assert finished.reason == "max_minutes" and finished.steps == 1
    assert [e.step for e in events if isinstance(e, Step)] == [1]  # the partial window is still reported
    assert isinstance(events[-2], Saved) and (tmp_path / "m" / "model.safetensors").exists()


def test_reusing_an_existing_tokenizer(bare_tokenizer_dir: Path, slice_file: Path, tmp_path: Path) -> None:
    config = tiny_config(slice_file, tmp_path / "m", tokenizer=str(bare_tokenizer_dir), max_steps=2,
                         eval_every=1000, sample_temperatures=(1.0,))
    finished = Trainer(config).run()
    from transformers import AutoTokenizer

    from scribe.training.bpe import load_tokenizer

    reused = load_tokenizer(bare_tokenizer_dir)
    saved = AutoTokenizer.from_pretrained(tmp_path / "m")
    assert finished.steps == 2 and len(saved) == len(reused) != 512  # not the 512-token BPE tiny_config would train
    assert saved("Good morrow")["input_ids"] == reused("Good morrow")["input_ids"]


def test_split_is_by_document_seeded_and_about_one_percent() -> None:
    docs = [Document(Path(f"d{i}.txt"), "x" * (1000 + i)) for i in range(300)]
    train, val = split_documents(docs, 0.01, seed=1)
    assert 0.01 <= sum(len(d.text) for d in val) / sum(len(d.text) for d in docs) < 0.02
    assert {d.path for d in train} | {d.path for d in val} == {d.path for d in docs}
    assert not {d.path for d in train} & {d.path for d in val}
    assert split_documents(docs, 0.01, seed=1) == (train, val)
    assert split_documents(docs, 0.01, seed=2)[1] != val


def test_a_single_document_is_split_at_line_breaks() -> None:
    text = "".join(f"line {i}\n" for i in range(100_000))
    train, val = split_corpus([Document(Path("one.txt"), text)], 0.01, seed=0)
    assert sum(len(d.text) for d in train + val) == len(text)
    assert all(d.text.endswith("\n") and d.text.startswith("line ") for d in train + val)
    assert 0 < sum(len(d.text) for d in val) <= len(text) * 0.02


def test_learning_rate_warms_up_then_follows_the_cosine(tmp_path: Path) -> None:
    trainer = Trainer(TrainConfig(data=[], output=tmp_path, lr=1e-3, warmup_steps=10, min_lr_ratio=0.1,
                                  max_steps=1000, max_minutes=10))
    assert trainer.lr_at(0, 0.0) == pytest.approx(1e-4)
    assert trainer.lr_at(9, 0.0) == pytest.approx(1e-3)
    assert trainer.lr_at(10, 0.0) == pytest.approx(1e-3, rel=1e-3)
    assert trainer.lr_at(500, 0.0) == pytest.approx(0.55e-3)
    assert trainer.lr_at(100, 300.0) == pytest.approx(0.55e-3)  # half the time budget is gone: half-way down
    assert trainer.lr_at(1000, 0.0) == pytest.approx(1e-4)


def test_bad_settings_are_refused(tmp_path: Path) -> None:
    with pytest.raises(TrainingError, match="unknown preset 'huge'"):
        TrainConfig(data=[], output=tmp_path, preset="huge")
    with pytest.raises(TrainingError, match="context must be at least 1"):
        TrainConfig(data=[], output=tmp_path, context=0)
    with pytest.raises(TrainingError, match="max-minutes must be positive"):
        TrainConfig(data=[], output=tmp_path, max_minutes=0)
    with pytest.raises(TrainingError, match="finetune needs a base model"):
        TrainConfig(data=[], output=tmp_path, mode="finetune")
    with pytest.raises(TrainingError, match="batch-size 10 is not a multiple of grad-accum 4"):
        TrainConfig(data=[], output=tmp_path, batch_size=10, grad_accum=4)
