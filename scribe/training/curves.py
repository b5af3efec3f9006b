"""A model's training history: `metrics.jsonl` (one JSON object per evaluation) and its picture `curves.svg`.

Each record has at least `step`, `val_loss` (nats/token) and `perplexity`; `train_loss`, `bits_per_char`, `epoch` and
`samples` (a list of {temperature, prompt, text, ...}) when the trainer has them. The picture is drawn by hand as SVG
(no plotting library): the training and validation loss on the left, the validation perplexity on the right, both
against the step. Nothing here imports more than the standard library.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

METRICS_FILE = "metrics.jsonl"
CURVE_FILE = "curves.svg"

_PANEL_W, _PANEL_H, _MARGIN_L, _MARGIN_B, _MARGIN_T = 330, 220, 56, 40, 30
_TRAIN_COLOUR, _VAL_COLOUR = "#1f77b4", "#d62728"


def read_metrics(folder: Path) -> list[dict[str, Any]]:
    """The records of `folder/metrics.jsonl` (an empty list when there is none; unreadable lines are skipped)."""
    path = Path(folder) / METRICS_FILE
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (FileNotFoundError, UnicodeDecodeError):
        return []
    records = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and {"step", "val_loss", "perplexity"} <= record.keys():
            records.append(record)
    return records


def write_history(folder: Path, records: Sequence[dict[str, Any]]) -> None:
    """Write `metrics.jsonl` and `curves.svg` into `folder` (nothing when there are no records)."""
    if not records:
        return
    folder = Path(folder)
    (folder / METRICS_FILE).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records),
                                       encoding="utf-8")
    (folder / CURVE_FILE).write_text(curve_svg(records), encoding="utf-8")


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About `count` round values covering [low, high]."""
    if high <= low:
        high = low + (abs(low) or 1.0) * 0.1
    raw = (high - low) / (count - 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step) * step
    ticks = [first]
    while ticks[-1] < high - 1e-12:
        ticks.append(ticks[-1] + step)
    return ticks


def _label(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _panel(x0: float, title: str, steps: list[int], series: list[tuple[str, str, list[float | None]]]) -> list[str]:
    """One chart at horizontal offset `x0`: axes, ticks, a title, and a polyline with dots per series."""
    values = [v for _, _, vs in series for v in vs if v is not None and math.isfinite(v)]
    y_ticks = _ticks(min(values), max(values))
    x_low, x_high = min(steps), max(steps)
    if x_high == x_low:
        x_low, x_high = x_low - 1, x_high + 1
    left, top = x0 + _MARGIN_L, _MARGIN_T
    width, height = _PANEL_W - _MARGIN_L - 10, _PANEL_H - _MARGIN_T - _MARGIN_B

    def x(step: float) -> float:
        return left + (step - x_low) / (x_high - x_low) * width

    def y(value: float) -> float:
        return top + height - (value - y_ticks[0]) / (y_ticks[-1] - y_ticks[0]) * height

    out = [f'<text x="{left + width / 2:.1f}" y="18" text-anchor="middle" font-weight="bold">{escape(title)}</text>',
           f'<rect x="{left}" y="{top}" width="{width}" height="{height}" fill="none" stroke="#888"/>']
    for tick in y_ticks:
        out.append(f'<line x1="{left - 4}" y1="{y(tick):.1f}" x2="{left + width}" y2="{y(tick):.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">{_label(tick)}</text>')
    for tick in sorted({steps[0], steps[-1]}):
        out.append(f'<text x="{x(tick):.1f}" y="{top + height + 16}" text-anchor="middle">{tick:,}</text>')
    out.append(f'<text x="{left + width / 2:.1f}" y="{top + height + 32}" text-anchor="middle">step</text>')
    for i, (name, colour, vs) in enumerate(series):
        points = [(x(s), y(v)) for s, v in zip(steps, vs) if v is not None and math.isfinite(v)]
        if len(points) > 1:
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
            out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        out += [f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{colour}"/>' for px, py in points]
        legend_y = top + 14 + 14 * i
        out.append(f'<line x1="{left + width - 92}" y1="{legend_y - 4}" x2="{left + width - 76}" y2="{legend_y - 4}" '
                   f'stroke="{colour}" stroke-width="2"/>')
        out.append(f'<text x="{left + width - 72}" y="{legend_y}">{escape(name)}</text>')
    return out


def curve_svg(records: Sequence[dict[str, Any]]) -> str:
    """The SVG picture of `records`: loss (training and validation) and validation perplexity against the step."""
    steps = [int(r["step"]) for r in records]
    loss_series = [("validation", _VAL_COLOUR, [r["val_loss"] for r in records])]
    if any(r.get("train_loss") is not None for r in records):
        loss_series.insert(0, ("training", _TRAIN_COLOUR, [r.get("train_loss") for r in records]))
    body = _panel(0, "loss (nats/token)", steps, loss_series)
    body += _panel(_PANEL_W, "validation perplexity", steps,
                   [("validation", _VAL_COLOUR, [r["perplexity"] for r in records])])
    width = 2 * _PANEL_W + 16  # room for the last step's label
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{_PANEL_H}" '
            f'viewBox="0 0 {width} {_PANEL_H}" font-family="sans-serif" font-size="11">\n'
            f'<rect width="{width}" height="{_PANEL_H}" fill="white"/>\n' + "\n".join(body) + "\n</svg>\n")
