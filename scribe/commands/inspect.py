"""`scribe inspect`: the next-token distribution and the attention at one position of a text, for scripting."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

from scribe.cli import CommandError
from scribe.commands.sweep import add_set_option, apply_sets


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `inspect` command."""
    parser = subparsers.add_parser(
        "inspect",
        help="the next-token distribution and attention summary at a position of a text",
        description="Run the model over a text and print, at one token position, the distribution of the next token "
        "(top candidates, cumulative mass, and which tokens the sampling settings remove) and where that token's "
        "attention goes in each layer and head. Sampling settings come from the settings file and --set.",
    )
    parser.add_argument("--model", "-m", help="model name or folder (default: the settings file's model)")
    parser.add_argument("--text", "-t", help="the text to analyse (default: stdin)")
    parser.add_argument("--position", "-k", type=int, default=-1,
                        help="token index, from 0; negative counts from the end (default -1: after the whole text)")
    parser.add_argument("--top", type=int, default=20, help="candidates to list (default %(default)s)")
    add_set_option(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--device", help="auto, cpu, cuda, cuda:N or mps")
    parser.add_argument("--dtype", help="auto, float32, float16 or bfloat16")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Analyse the text and print the distribution and attention at the position."""
    from scribe.analysis.attention import attention_at
    from scribe.analysis.distribution import distribution_at
    from scribe.analysis.report import attention_summary, distribution_table
    from scribe.config import load_settings
    from scribe.engine.introspect import IntrospectionUnavailable, introspector
    from scribe.engine.registry import load_model

    settings = load_settings()
    params = apply_sets(settings.sampling, args.settings)
    text = args.text if args.text is not None else ("" if sys.stdin.isatty() else sys.stdin.read())
    if not text:
        raise CommandError("no text: give --text TEXT or pipe text on stdin")
    if args.top < 1:
        raise CommandError("--top must be 1 or more")
    backend = load_model(args.model or settings.model, device=args.device or settings.device,
                         dtype=args.dtype or settings.dtype, trust_remote_code=settings.trust_remote_code)
    try:
        inspector = introspector(backend)
        ids = inspector.encode(text)
        if not -len(ids) <= args.position < len(ids):
            raise CommandError(f"--position {args.position} is outside the text's {len(ids)} tokens")
        analysed = inspector.run(ids)
        position = args.position % len(ids) - analysed.offset
        if position < 0:
            raise CommandError(f"--position {args.position} is before the last {len(analysed.ids)} tokens, which is "
                               "all one pass covers; analyse a shorter text")
        dist = distribution_at(analysed, position, params, top=args.top)
        try:
            attention, unavailable = attention_at(analysed, position), None
        except IntrospectionUnavailable as exc:
            attention, unavailable = None, str(exc)
    finally:
        backend.close()
    if args.json:
        out = {"model": analysed.model, "tokens": analysed.texts, "offset": analysed.offset,
               "position": position + analysed.offset, "settings": params.to_dict(),
               "distribution": {**dataclasses.asdict(dist), "position": position + analysed.offset},
               "attention": {"layers": [{"name": name, "mean": list(attention.row(i, None)),
                                         "heads": [list(head) for head in attention.weights[i]]}
                                        for i, name in enumerate(attention.layer_names)]}
               if attention is not None else {"unavailable": unavailable}}
        print(json.dumps(out, ensure_ascii=False))
        return 0
    cut = f" (the last {len(analysed.ids)} analysed)" if analysed.offset else ""
    print(f"{analysed.model} · {len(ids)} tokens{cut} · position {position + analysed.offset}")
    print(distribution_table(dist))
    print()
    print(attention_summary(attention) if attention is not None else f"attention: unavailable: {unavailable}")
    return 0
