"""A model's training history on disk: `metrics.jsonl` and the hand-drawn `curves.svg`."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from scribe.training.curves import CURVE_FILE, METRICS_FILE, curve_svg, read_metrics, write_history

SVG = "{http://www.w3.org/2000/svg}"
RECORDS = [
    {"step": 0, "train_loss": None, "val_loss": 4.6, "perplexity": 99.48, "bits_per_char": 2.2, "samples": []},
    {"step": 50, "train_loss": 4.1, "val_loss": 4.3, "perplexity": 73.7, "bits_per_char": 2.05,
     "samples": [{"temperature": 0.7, "prompt": "It was", "text": " a “dark” night"}]},
    {"step": 100, "train_loss": 3.8, "val_loss": 4.2, "perplexity": 66.69, "bits_per_char": 2.0, "samples": []},
]


def test_the_history_round_trips_and_its_picture_has_a_line_per_series(tmp_path: Path) -> None:
    write_history(tmp_path, RECORDS)
    assert read_metrics(tmp_path) == RECORDS
    assert "“dark”" in (tmp_path / METRICS_FILE).read_text(encoding="utf-8")  # kept as written, not escaped
    svg = ET.parse(tmp_path / CURVE_FILE).getroot()
    assert svg.tag == f"{SVG}svg"
    lines = svg.findall(f"{SVG}polyline")
    assert len(lines) == 3  # training loss (from step 50), validation loss, validation perplexity
    assert [len(line.get("points").split()) for line in lines] == [2, 3, 3]
    assert len(svg.findall(f"{SVG}circle")) == 8
    texts = [t.text for t in svg.iter(f"{SVG}text")]
    assert {"loss (nats/token)", "validation perplexity", "training", "validation", "0", "100"} <= set(texts)


def test_the_y_axis_covers_every_value(tmp_path: Path) -> None:
    svg = ET.fromstring(curve_svg(RECORDS))
    dots = [float(c.get("cy")) for c in svg.findall(f"{SVG}circle")]
    frame = [r for r in svg.findall(f"{SVG}rect") if r.get("fill") == "none"][0]
    top, bottom = float(frame.get("y")), float(frame.get("y")) + float(frame.get("height"))
    assert all(top - 0.01 <= y <= bottom + 0.01 for y in dots)


def test_one_evaluation_draws_dots_and_no_history_writes_nothing(tmp_path: Path) -> None:
    svg = ET.fromstring(curve_svg(RECORDS[:1]))
    assert not svg.findall(f"{SVG}polyline") and len(svg.findall(f"{SVG}circle")) == 2
    write_history(tmp_path, [])
    assert not list(tmp_path.iterdir())


def test_unreadable_lines_are_skipped(tmp_path: Path) -> None:
    (tmp_path / METRICS_FILE).write_text(json.dumps(RECORDS[1]) + "\nnot json\n{\"step\": 3}\n", encoding="utf-8")
    assert read_metrics(tmp_path) == [RECORDS[1]]
    assert read_metrics(tmp_path / "nowhere") == []
