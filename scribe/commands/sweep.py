"""`scribe sweep`: continue one prompt under a grid of up to two sampling settings and compare the cells."""

from __future__ import annotations

import argparse
import json
import sys

from scribe.cli import CommandError
from scribe.sampling.params import InvalidSetting, SamplingParams


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `sweep` command."""
    parser = subparsers.add_parser(
        "sweep",
        help="sample one prompt over a grid of sampling settings; diversity and likelihood per cell",
        description="Continue the same prompt with the same seeds under every combination of one or two swept "
        "settings. Per cell: mean token log-probability, distinct-1/2/3, repetition rate (seq-rep-4) and self-BLEU "
        "over the samples. Other settings come from the settings file and --set.",
    )
    parser.add_argument("--model", "-m", help="model name or folder (default: the settings file's model)")
    parser.add_argument("--prompt", "-p", required=True, help="the text to continue")
    parser.add_argument("--grid", "-g", action="append", required=True, metavar="NAME=V1,V2,...",
                        help="a setting and its values, e.g. temperature=0.1,0.7,1.0,1.5 (once or twice)")
    parser.add_argument("--samples", "-n", type=int, default=4, help="samples per cell (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the first sample in every cell (default %(default)s)")
    parser.add_argument("--max-new-tokens", type=int, default=40, help="tokens per sample (default %(default)s)")
    add_set_option(parser)
    parser.add_argument("--json", action="store_true", help="print the whole result as one JSON object")
    parser.add_argument("--device", help="auto, cpu, cuda, cuda:N or mps")
    parser.add_argument("--dtype", help="auto, float32, float16 or bfloat16")
    parser.set_defaults(run=run)


def add_set_option(parser: argparse.ArgumentParser) -> None:
    """The repeatable `--set NAME=VALUE` option for sampling settings."""
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", dest="settings",
                        help="a sampling setting for this run, e.g. top_k=40 (repeat for several)")


def apply_sets(base: SamplingParams, pairs: list[str]) -> SamplingParams:
    """`base` with each NAME=VALUE applied (CommandError on a bad one)."""
    changes = {}
    try:
        for pair in pairs:
            name, sep, value = pair.partition("=")
            if not sep:
                raise InvalidSetting(f"--set {pair!r}: write NAME=VALUE")
            name = name.strip().replace("-", "_")
            changes[name] = SamplingParams.parse_field(name, value)
        return base.replace(**changes)
    except InvalidSetting as exc:
        raise CommandError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    """Load the model, run the sweep, print a table (or JSON)."""
    from scribe.analysis.sweep import check_axes, parse_axis, run_sweep
    from scribe.analysis.report import sweep_table
    from scribe.config import load_settings
    from scribe.engine.registry import load_model

    settings = load_settings()
    try:
        axes = [parse_axis(spec) for spec in args.grid]
        check_axes(axes)
        if args.samples < 1 or args.max_new_tokens < 1:
            raise InvalidSetting("--samples and --max-new-tokens must be 1 or more")
        base = settings.sampling.replace(max_new_tokens=args.max_new_tokens)
    except InvalidSetting as exc:
        raise CommandError(str(exc)) from None
    base = apply_sets(base, args.settings)
    backend = load_model(args.model or settings.model, device=args.device or settings.device,
                         dtype=args.dtype or settings.dtype, trust_remote_code=settings.trust_remote_code)

    def progress(index: int, count: int, cell: object) -> None:
        if not args.json and sys.stderr.isatty():
            print(f"\rcell {index + 1}/{count}", end="", file=sys.stderr, flush=True)

    try:
        result = run_sweep(backend, args.prompt, base, axes, args.samples, seed=args.seed, on_cell=progress)
    finally:
        backend.close()
    if not args.json and sys.stderr.isatty():
        print("\r" + " " * 20 + "\r", end="", file=sys.stderr)
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False))
    else:
        print(sweep_table(result))
    return 0
