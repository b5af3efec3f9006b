"""Plain-text reports of analyses, for the command line: sweep tables and next-token inspections."""

from __future__ import annotations

from collections.abc import Sequence

from scribe.analysis.attention import AttentionRow, entropy_bits, top_keys
from scribe.analysis.distribution import Distribution
from scribe.analysis.sweep import SweepResult


def number(value: float | None, digits: int = 3) -> str:
    """A metric for a table cell ("-" when it is not defined)."""
    return "-" if value is None else f"{value:.{digits}f}"


def one_line(text: str, width: int | None = None) -> str:
    """Text on one line (newlines and tabs shown as escapes), cut to `width` characters with "…"."""
    flat = text.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")
    return flat if width is None or len(flat) <= width else flat[: width - 1] + "…"


def aligned(rows: Sequence[Sequence[str]], right_from: int = 0) -> str:
    """Rows as columns separated by two spaces; columns from `right_from` on are right-aligned."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    def line(row: Sequence[str]) -> str:
        cells = (cell.rjust(w) if i >= right_from else cell.ljust(w) for i, (cell, w) in enumerate(zip(row, widths)))
        return "  ".join(cells).rstrip()

    return "\n".join(line(row) for row in rows)


def prob(value: float) -> str:
    """A probability with four decimals, or in scientific notation when it is below 0.001."""
    return f"{value:.4f}" if value == 0 or value >= 1e-3 else f"{value:.1e}"


SWEEP_METRICS = ("logprob", "distinct-1", "distinct-2", "distinct-3", "repetition", "self-BLEU")


def sweep_table(result: SweepResult, sample_width: int = 100) -> str:
    """The metrics of every cell, then every cell's samples."""
    names = [axis.name for axis in result.axes]
    rows = [names + list(SWEEP_METRICS)]
    for cell in result.cells:
        values = [cell.mean_logprob, *cell.distinct, cell.repetition_rate, cell.self_bleu]
        rows.append([str(cell.settings[n]) for n in names] + [number(value) for value in values])
    samples = len(result.cells[0].samples) if result.cells else 0
    head = (f"{result.model} · seed {result.seed} · {samples} samples per cell · "
            f"{result.base.max_new_tokens} tokens each · prompt {one_line(result.prompt, 60)!r}")
    lines = [head, "", aligned(rows, right_from=len(names)), ""]
    for cell in result.cells:
        lines.append(" ".join(f"{name}={cell.settings[name]}" for name in names))
        lines.extend(f"  [seed {s.seed}] {one_line(s.text, sample_width)}" for s in cell.samples)
    return "\n".join(lines)


def distribution_table(dist: Distribution) -> str:
    """The candidates with their probabilities, the cumulative mass and which processor removed each."""
    cuts = ", ".join(f"{cut.processor} keeps {cut.kept:,}" for cut in dist.cuts) or "no processor enabled"
    lines = [f"next token after {one_line(dist.after)!r}: entropy {dist.entropy_bits:.2f} bits over {dist.vocab:,} "
             f"tokens; {cuts}"]
    rows = [["rank", "token", "prob", "cumulative", "final", "removed by"]]
    for candidate in dist.candidates + ((dist.actual,) if dist.actual is not None else ()):
        rows.append([str(candidate.rank), repr(candidate.text), prob(candidate.prob), prob(candidate.cumulative),
                     prob(candidate.final_prob), candidate.removed_by or ""])
    lines.append(aligned(rows, right_from=2))
    if dist.actual is not None:
        lines.append(f"(the last row is the token that follows in the text: {dist.actual.text!r}, "
                     f"rank {dist.actual.rank:,})")
    return "\n".join(lines)


def attention_summary(row: AttentionRow, keys: int = 3) -> str:
    """Per layer the most attended tokens (mean over heads), and per head its top token and entropy."""
    def named(pairs: list[tuple[int, float]]) -> str:
        return ", ".join(f"{index}:{row.tokens[index]!r} {weight:.3f}" for index, weight in pairs)

    lines = [f"attention of token {row.position} {row.tokens[-1]!r} over {len(row.tokens)} tokens "
             f"({len(row.layer_names)} layers x {row.heads} heads)"]
    for layer, name in enumerate(row.layer_names):
        lines.append(f"{name} (mean of heads): {named(top_keys(row.row(layer, None), keys))}")
        for head in range(row.heads):
            weights = row.row(layer, head)
            lines.append(f"  head {head}: {named(top_keys(weights, 1))}  entropy {entropy_bits(weights):.2f} bits")
    return "\n".join(lines)
