"""`scribe train --arch char-lstm|word-lstm|transformer-decoder|mini-gpt`: the train command's flags as a Keras run.

The train command parses the flags and follows the job; this turns them into a `KerasTrainConfig`. Flags left unset
(None) take the preset's value; flags that only mean something for the GPT-2 trainer are refused when set.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

ARCH_CHOICES = ("gpt2", "char-lstm", "word-lstm", "transformer-decoder", "mini-gpt")
"""What `--arch` accepts: the GPT-2 trainer's architecture, then the Keras ones (see architectures.ARCHITECTURES)."""


def is_keras(args: argparse.Namespace) -> bool:
    """True when the flags ask for a Keras architecture."""
    return getattr(args, "arch", "gpt2") != "gpt2"


def keras_config(args: argparse.Namespace, output: Path):  # -> KerasTrainConfig (imports nothing heavy)
    """The KerasTrainConfig the parsed train flags describe (ValueError for flags that do not apply)."""
    from scribe.keras_models.train_config import KerasTrainConfig

    if args.base or args.lora:
        raise ValueError("--base and --lora fine-tune transformers models; Keras architectures train from scratch")
    if args.holdout or args.extend_context:
        raise ValueError("--holdout and --extend-context apply to the GPT-2 trainer only")
    if args.processes != 1:
        raise ValueError("--processes applies to the GPT-2 trainer only; Keras models train in one process")
    optional = {
        "sequence_length": args.context, "batch_size": args.batch_size, "lr": args.lr, "eval_every": args.eval_every,
        "max_minutes": args.max_minutes, "threads": args.threads,
    }
    return KerasTrainConfig(
        data=list(args.files), output=output, name=args.name or output.name, arch=args.arch, preset=args.preset,
        max_steps=args.max_steps, seed=args.seed, resume=args.resume, val_fraction=args.val_fraction,
        strip_gutenberg=not args.keep_gutenberg_headers, join_lines=not args.keep_line_breaks, command="scribe " + shlex.join(sys.argv[1:]),
        **{k: v for k, v in optional.items() if v is not None},
    )
