"""Issue 15, "trained models are never lost": a training job imports before its first step everything its end needs
(`scribe.training.job.END_OF_RUN`), so upgrading or editing scribe while a long job runs cannot make the final save
fail. Each job here runs from a copy of the `scribe` package; once it reports `started` it is paused, every module of
the copy is replaced by one that raises ImportError, and it is let go: it must still evaluate, sample and save a model
that loads. When the final save fails all the same, the message names the checkpoint kept and the `--resume` command,
and that command, run as printed, saves the model."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from scribe.training.checkpoint import load_checkpoint

REPO = Path(__file__).resolve().parents[2]
BROKEN = 'raise ImportError(f"{__name__}: scribe changed on disk while the job ran")\n'


def _text(tmp_path: Path) -> Path:
    """A few kB of Tiny Shakespeare."""
    text = (REPO / "tests" / "data" / "tinyshakespeare.txt").read_text(encoding="utf-8")[:8000]
    path = tmp_path / "shakespeare.txt"
    path.write_text(text, encoding="utf-8")
    return path


def _copy_of_scribe(tmp_path: Path) -> Path:
    """A copy of the package, first on the path of the processes started with `_environment`."""
    root = tmp_path / "installed"
    shutil.copytree(REPO / "scribe", root / "scribe", ignore=shutil.ignore_patterns("__pycache__"))
    return root


def _environment(root: Path, home: Path) -> dict[str, str]:
    """The environment of a job running the copy at `root` (checked: run from `root`'s parent, it imports the copy)."""
    env = dict(os.environ, PYTHONPATH=str(root), SCRIBE_HOME=str(home))
    found = subprocess.run([sys.executable, "-c", "import scribe; print(scribe.__file__)"], env=env, text=True,
                           capture_output=True, check=True, cwd=root.parent).stdout.strip()
    assert Path(found).is_relative_to(root), found  # the job will run the copy, not the checkout
    return env


def _break(root: Path) -> int:
    """Replace every module of the copy by one that raises ImportError; returns how many."""
    for cache in list(root.rglob("__pycache__")):
        shutil.rmtree(cache)
    modules = list(root.rglob("*.py"))
    for module in modules:
        module.write_text(BROKEN, encoding="utf-8")
    return len(modules)


def _run_breaking_after_start(command: list[str], env: dict[str, str], log: Path) -> tuple[int, list[dict]]:
    """Run a job, break the copy of scribe while it is paused just after its `started` event; its exit status and
    events."""
    root = Path(env["PYTHONPATH"])
    events: list[dict] = []
    with open(log, "w", encoding="utf-8") as err:
        job = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=err, text=True, cwd=root.parent)
        assert job.stdout is not None
        for line in job.stdout:
            events.append(json.loads(line))
            if events[-1]["event"] == "started":
                job.send_signal(signal.SIGSTOP)  # nothing moves on while the copy is broken
                assert _break(root) > 100
                job.send_signal(signal.SIGCONT)
        status = job.wait(timeout=600)
    return status, events


@pytest.mark.parametrize("mode", ["scratch", "lora"])
def test_a_training_job_saves_its_model_after_scribe_changed_on_disk(tmp_path: Path, mode: str,
                                                                    char_gpt2: Callable[..., Path]) -> None:
    from scribe.training.trainer import TrainConfig

    root = _copy_of_scribe(tmp_path)
    env = _environment(root, tmp_path / "home")
    output = tmp_path / "model"
    text = _text(tmp_path)
    base = str(char_gpt2([text])) if mode == "lora" else None
    config = TrainConfig(data=[str(text)], output=output, mode=mode, base=base, preset="tiny", tokenizer="char",
                         context=32, batch_size=4, max_steps=20, eval_every=10, log_every=1, threads=1,
                         sample_tokens=8, job_dir=tmp_path / "job")
    (tmp_path / "job.json").write_text(config.to_json(), encoding="utf-8")

    status, events = _run_breaking_after_start(
        [sys.executable, "-m", "scribe.training.job", str(tmp_path / "job.json")], env, tmp_path / "job.log")

    log = (tmp_path / "job.log").read_text(encoding="utf-8")
    assert status == 0, (events[-1], log[-3000:])
    kinds = [e["event"] for e in events]
    evals = 3 if mode == "lora" else 2  # the base model's, the middle's and the end's
    assert kinds.count("eval") == evals and kinds[-2:] == ["saved", "finished"], kinds
    assert "scribe changed on disk" not in log
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(output)
    tokenizer = AutoTokenizer.from_pretrained(output)
    assert model.config.n_layer == (1 if mode == "lora" else 2) and len(tokenizer("To be")["input_ids"]) == 5
    assert not any("lora" in name for name in model.state_dict())  # the adapters were merged
    assert "## Training curve" in (output / "README.md").read_text(encoding="utf-8")
    assert (output / "curves.svg").read_text(encoding="utf-8").startswith("<svg")
    steps = [json.loads(line)["step"] for line in (output / "metrics.jsonl").read_text().splitlines()]
    assert steps == ([0] if mode == "lora" else []) + [10, 20]


def test_a_keras_job_saves_its_model_after_scribe_changed_on_disk(tmp_path: Path) -> None:
    from scribe.keras_models.train_config import KerasTrainConfig

    root = _copy_of_scribe(tmp_path)
    env = _environment(root, tmp_path / "home")
    output = tmp_path / "model"
    config = KerasTrainConfig(data=[str(_text(tmp_path))], output=output, arch="char-lstm", preset="tiny",
                              max_steps=4, log_every=1, threads=1, sample_tokens=8, job_dir=tmp_path / "job")
    (tmp_path / "job.json").write_text(config.to_json(), encoding="utf-8")

    status, events = _run_breaking_after_start(
        [sys.executable, "-m", "scribe.keras_models.job", str(tmp_path / "job.json")], env, tmp_path / "job.log")

    log = (tmp_path / "job.log").read_text(encoding="utf-8")
    assert status == 0, (events[-1], log[-3000:])
    kinds = [e["event"] for e in events]
    assert "sample" in kinds and kinds[-3:] == ["saved", "checkpoint", "finished"], kinds
    from scribe.keras_models.saved import load_folder

    loaded = load_folder(output)
    assert loaded.meta["progress"]["step"] == 4 and loaded.model.count_params() > 0
    assert "## Training curve" in (output / "README.md").read_text(encoding="utf-8")


def test_a_failed_final_save_names_the_checkpoint_and_the_resume_command(tmp_path: Path, scribe_home: Path) -> None:
    """The model's folder cannot be made at the end (a file stands where its parent folder goes): `scribe train` fails
    with one message naming the checkpoint and the `--resume` command; once the way is clear, that command saves."""
    blocker = tmp_path / "models"
    output = blocker / "model"
    argv = ["train", str(_text(tmp_path)), "--output", str(output), "--preset", "tiny", "--tokenizer", "char",
            "--context", "32", "--batch-size", "4", "--max-steps", "20", "--eval-every", "10", "--threads", "1"]
    blocker.write_text("not a folder", encoding="utf-8")  # nothing but the end of the run writes there
    process = subprocess.run([sys.executable, "-m", "scribe", *argv], cwd=REPO, capture_output=True, text=True)
    lines = process.stderr.splitlines()
    assert process.returncode == 1, lines
    assert any(line.startswith("eval step 20:") for line in lines), lines  # it trained to the end
    checkpoint = scribe_home / "data" / "jobs" / "model" / "checkpoint"
    assert load_checkpoint(checkpoint).state.step == 20
    failed = [i for i, line in enumerate(lines) if "could not be saved" in line]
    assert failed, lines
    message = "\n".join(lines[failed[-1]:])
    assert str(output) in message and f"checkpoint at step 20 in {checkpoint}" in message, lines
    printed = shlex.split(message.splitlines()[-1])
    assert printed[:2] == ["scribe", "train"] and printed[-1] == "--resume", message

    blocker.unlink()
    resumed = subprocess.run([sys.executable, "-m", "scribe", *printed[1:]], cwd=REPO, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resuming at step 20" in resumed.stderr
    from transformers import AutoModelForCausalLM

    assert AutoModelForCausalLM.from_pretrained(output).config.n_layer == 2


def test_a_failed_keras_save_names_the_model_kept_and_the_resume_command(tmp_path: Path, scribe_home: Path) -> None:
    """A Keras run's model folder is its checkpoint: when a save fails (here its temporary folder cannot be made), the
    error names the folder saved before and the command that resumes from it."""
    from scribe.keras_models.saved import read_meta
    from scribe.keras_models.train_config import KerasTrainConfig
    from scribe.keras_models.trainer import KerasTrainer

    output = tmp_path / "model"
    command = f"scribe train {tmp_path / 'shakespeare.txt'} --arch char-lstm --preset tiny --output {output}"
    settings = dict(data=[str(_text(tmp_path))], output=output, arch="char-lstm", preset="tiny", eval_every=2,
                    log_every=1, sample_tokens=4, command=command)  # no threads: TensorFlow may be running already
    KerasTrainer(KerasTrainConfig(max_steps=2, **settings)).run()
    in_the_way = tmp_path / f".model.tmp-{os.getpid()}"  # where the next save writes before swapping it in
    in_the_way.write_text("in the way", encoding="utf-8")

    with pytest.raises(ValueError) as failed:
        KerasTrainer(KerasTrainConfig(max_steps=4, resume=True, **settings)).run()

    assert str(failed.value) == (
        f"the model could not be saved to {output} ({in_the_way}: File exists); the model saved at "
        f"step 2 in {output} is kept. Continue with:\n  {command} --resume")
    assert read_meta(output)["progress"]["step"] == 2
