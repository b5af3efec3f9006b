"""`scribe inspect` and `scribe sweep` run in-process through the CLI entry point, and the heavy-import rule."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from scribe.analysis.report import one_line
from scribe.cli import main


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


def test_inspect_prints_the_distribution_and_attention_at_a_position(heads_dir: Path, capsys) -> None:
    status, out, _ = run_cli(capsys, "inspect", "-m", str(heads_dir), "--text", "I am not well and the lord",
                             "--position", "3", "--set", "top_k=4", "--set", "temperature=1", "--top", "6")
    assert status == 0
    assert "position 3" in out and "top_k keeps 4" in out and "rank" in out
    assert "(the last row is the token that follows in the text: ' and'" in out
    assert "layer 1 (mean of heads)" in out and "head 2:" in out

    status, out, _ = run_cli(capsys, "inspect", "-m", str(heads_dir), "--text", "I am not well and the lord",
                             "--json", "--set", "top_p=0.5")
    data = json.loads(out)
    assert status == 0 and data["position"] == len(data["tokens"]) - 1 == 6
    dist = data["distribution"]
    assert len(dist["candidates"]) == 20 and dist["actual"] is None
    assert [cut["processor"] for cut in dist["cuts"]] == ["temperature", "top_p"]  # settings file: temperature 0.8
    layers = data["attention"]["layers"]
    assert [layer["name"] for layer in layers] == ["layer 0", "layer 1"] and len(layers[1]["heads"]) == 3
    assert sum(layers[1]["mean"]) == pytest.approx(1.0) and len(layers[1]["mean"]) == 7


def test_inspect_refuses_bad_positions_and_settings(heads_dir: Path, capsys) -> None:
    status, _, err = run_cli(capsys, "inspect", "-m", str(heads_dir), "--text", "My lord", "--position", "5")
    assert status == 1 and "outside the text's 2 tokens" in err
    status, _, err = run_cli(capsys, "inspect", "-m", str(heads_dir), "--text", "My lord", "--set", "top_p=3")
    assert status == 1 and "top_p" in err


def test_sweep_prints_a_table_and_repeats_itself_in_json(tiny_dir: Path, capsys) -> None:
    args = ("sweep", "-m", str(tiny_dir), "--prompt", "Once upon a time", "--grid", "temperature=0.5,1.5",
            "--grid", "top_k=5,50", "--samples", "2", "--max-new-tokens", "4", "--seed", "3")
    status, out, _ = run_cli(capsys, *args)
    lines = out.splitlines()
    assert status == 0 and "seed 3 · 2 samples per cell · 4 tokens each" in lines[0]
    assert lines[2].split() == ["temperature", "top_k", "logprob", "distinct-1", "distinct-2", "distinct-3",
                                "repetition", "self-BLEU"]
    assert [line.split()[:2] for line in lines[3:7]] == [["0.5", "5"], ["0.5", "50"], ["1.5", "5"], ["1.5", "50"]]
    assert out.count("[seed 3]") == 4 and out.count("[seed 4]") == 4
    data = json.loads(run_cli(capsys, *args, "--json")[1])  # the same seeds: the same samples
    assert len(data["cells"]) == 4 and data["cells"][3]["settings"] == {"temperature": 1.5, "top_k": 50}
    for cell in data["cells"]:
        for sample in cell["samples"]:
            assert f"  [seed {sample['seed']}] {one_line(sample['text'], 100)}" in lines
    status, _, err = run_cli(capsys, "sweep", "-m", str(tiny_dir), "--prompt", "x", "--grid", "top_k=1",
                             "--grid", "top_p=0.5", "--grid", "min_p=0.1")
    assert status == 1 and "one or two settings" in err


def test_importing_the_views_imports_no_heavy_library() -> None:
    code = ("import sys, scribe.ui.app, scribe.ui.screens.attention, scribe.ui.screens.distribution, "
            "scribe.ui.screens.sweep, scribe.commands.sweep, scribe.commands.inspect; "
            "print(sorted(m for m in ('torch', 'transformers', 'tensorflow', 'httpx', 'numpy') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_eval_compares_models_in_one_table_with_their_speed(tiny_dir: Path, heads_dir: Path, tmp_path: Path,
                                                            capsys) -> None:
    text = tmp_path / "text.txt"
    text.write_text("The sea was calm. The sky was grey, and the boats came home before the storm.\n", encoding="utf-8")
    status, out, err = run_cli(capsys, "eval", str(text), "-m", str(tiny_dir), "-m", str(heads_dir),
                               "--max-length", "16", "--speed-tokens", "6", "--device", "cpu")
    assert status == 0, err
    header, *rows = out.splitlines()
    assert header.split() == ["model", "tokens", "characters", "loss", "perplexity", "bits/char", "tokens/s"]
    assert [row.split()[0] for row in rows] == ["tiny-random-gpt2", heads_dir.name]
    assert all(float(row.split()[-1]) > 0 for row in rows)
    status, out, _ = run_cli(capsys, "eval", str(text), "-m", str(tiny_dir), "--max-length", "16",
                             "--speed-tokens", "0", "--json")
    assert json.loads(out)["tokens_per_s"] is None


def test_scoring_through_the_backend_agrees_with_the_sliding_window_evaluation(heads_dir: Path, tmp_path: Path) -> None:
    from scribe.analysis.comparison import backend_score
    from scribe.engine.registry import load_model
    from scribe.training.corpus import read_corpus
    from scribe.training.evaluate import evaluate_model

    text = "The sea was calm. The sky was grey, and the boats came home."  # shorter than the 48-token context
    path = tmp_path / "text.txt"
    path.write_text(text, encoding="utf-8")
    expected = evaluate_model(str(heads_dir), [str(path)], device="cpu")
    backend = load_model(str(heads_dir), device="cpu")
    try:
        score = backend_score(backend, [d.text for d in read_corpus([path]).documents])
    finally:
        backend.close()
    assert (score.tokens, score.characters) == (expected.tokens, expected.characters)
    assert score.nats == pytest.approx(expected.nats, rel=1e-4)
