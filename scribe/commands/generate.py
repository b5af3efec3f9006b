"""`scribe generate`: stream a continuation to stdout, as text or as one JSON object per token."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import re
import sys
from pathlib import Path
from typing import Any, TextIO

from scribe.cli import CommandError
from scribe.config import load_settings, with_flags
from scribe.files import describe_os_error, read_bounded
from scribe.sampling.params import PHRASE_LISTS, InvalidSetting, SamplingParams, field_docs
from scribe.studio.context import DEFAULT_NOTE_DEPTH, ContextTools
from scribe.studio.document import MAX_BYTES, DocumentError, decode_text
from scribe.studio.lorebook import Lorebook, LorebookError, read_lorebook

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\"}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `generate` command with one flag per sampling parameter."""
    parser = subparsers.add_parser(
        "generate",
        help="continue a text with a model and stream it to stdout",
        description="Continue a prompt (--prompt, --prompt-file or stdin). Unset sampling flags come from the settings file.",
    )
    parser.add_argument("--model", "-m", help="model name or folder (default: the settings file's model)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--prompt", "-p", help="the text to continue")
    source.add_argument("--prompt-file", "-f", help="read the text to continue from this file")
    parser.add_argument("--json", action="store_true", help="print one JSON object per token, then a summary object")
    parser.add_argument("--alternatives", type=int, help="top alternatives per token in --json output (default 5)")
    parser.add_argument("--device", help="auto, cpu, cuda, cuda:N or mps")
    parser.add_argument("--dtype", help="auto, float32, float16, bfloat16 or int8 (int8: CPU, GPT-2 and Linear layers)")
    parser.add_argument("--trust-remote-code", action="store_true", help="allow code shipped in the model's repository")
    context = parser.add_argument_group(
        "context (the prompt is assembled: memory, lorebook entries, then the prompt's end with the note inside)")
    context.add_argument("--memory", metavar="FILE", help="text always placed at the top of the prompt")
    context.add_argument("--note", metavar="TEXT", help="author's note, inserted --note-depth paragraphs before the end")
    context.add_argument("--note-depth", metavar="N", type=int, default=DEFAULT_NOTE_DEPTH,
                         help=f"paragraphs before the end where the note goes (default {DEFAULT_NOTE_DEPTH})")
    context.add_argument("--lorebook", metavar="FILE",
                         help="lorebook: scribe's TOML/JSON, or SillyTavern / KoboldAI world-info JSON as exported")
    context.add_argument("--show-prompt", action="store_true",
                         help="print the assembled prompt to stdout (its parts to stderr) and exit without generating")
    sampling = parser.add_argument_group("sampling (see `scribe generate --help`; order: penalties, no-repeat-ngram, temperature, top-k, top-p, min-p, typical-p)")
    for name, doc in field_docs().items():
        flag = "--" + name.replace("_", "-")
        if name in PHRASE_LISTS:
            sampling.add_argument(flag, action="append", metavar="TEXT", help=doc + " Repeat for several.")
        else:
            sampling.add_argument(flag, metavar="N", help=doc)
    parser.set_defaults(run=run)


def read_prompt(args: argparse.Namespace, stdin: TextIO) -> str:
    """The prompt from --prompt, --prompt-file or piped stdin."""
    if args.prompt is not None:
        return args.prompt
    if args.prompt_file:
        path = Path(args.prompt_file)
        try:
            return decode_text(read_bounded(path, MAX_BYTES, what="prompt file"), path)[0]
        except DocumentError as exc:
            raise CommandError(str(exc)) from None
        except OSError as exc:
            raise CommandError(describe_os_error(exc, path)) from None
    if stdin.isatty():
        raise CommandError("no prompt: give --prompt TEXT, --prompt-file FILE, or pipe text on stdin")
    return stdin.read()


def unescape(text: str) -> str:
    """`\\n`, `\\t`, `\\r` and `\\\\` typed on a command line as the characters they name (`--stop '\\n'`)."""
    return re.sub(r"\\([ntr\\])", lambda m: _ESCAPES[m.group(1)], text)


def context_from_args(args: argparse.Namespace) -> ContextTools:
    """The memory, note and lorebook the flags give (CommandError naming a file that cannot be read)."""
    memory = ""
    if args.memory:
        try:
            memory = Path(args.memory).expanduser().read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"--memory {args.memory}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    if args.note_depth < 0:
        raise CommandError("--note-depth must be 0 or more (paragraphs before the end)")
    try:
        lorebook = read_lorebook(args.lorebook) if args.lorebook else Lorebook()
    except LorebookError as exc:
        raise CommandError(f"--lorebook {exc}") from None
    return ContextTools(memory, args.note or "", args.note_depth, lorebook)


def sampling_from_args(args: argparse.Namespace, base: SamplingParams) -> SamplingParams:
    """The settings file's sampling parameters with the given flags applied (validated)."""
    changes: dict[str, Any] = {}
    for name in field_docs():
        value = getattr(args, name)
        if value is None:
            continue
        changes[name] = tuple(unescape(v) for v in value) if name in PHRASE_LISTS else SamplingParams.parse_field(name, value)
    try:
        return base.replace(**changes)
    except InvalidSetting as exc:
        raise CommandError(str(exc)) from None


def strict_json(value: Any) -> str:
    """`value` as strict JSON on one line: unknown (NaN) or infinite numbers become null."""

    def finite(v: Any) -> Any:
        if isinstance(v, float):
            return v if math.isfinite(v) else None
        if isinstance(v, dict):
            return {k: finite(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [finite(x) for x in v]
        return v

    return json.dumps(finite(value), ensure_ascii=False, allow_nan=False)


def run(args: argparse.Namespace) -> int:
    """Load the model, stream the continuation, print it."""
    from scribe.engine.base import StreamEnd
    from scribe.engine.registry import load_model

    settings = with_flags(load_settings(), model=args.model, device=args.device, dtype=args.dtype,
                          alternatives=args.alternatives, trust_remote_code=args.trust_remote_code or None)
    try:
        params = sampling_from_args(args, settings.sampling)
    except InvalidSetting as exc:
        raise CommandError(str(exc)) from None
    prompt = read_prompt(args, sys.stdin)
    tools = context_from_args(args)
    alternatives = settings.alternatives
    backend = load_model(settings.model, device=settings.device, dtype=settings.dtype,
                         trust_remote_code=settings.trust_remote_code, light=params.search is None,
                         notice=lambda line: print(line, file=sys.stderr, flush=True))
    if args.show_prompt or not tools.empty:
        from scribe.engine.base import prompt_budget
        from scribe.studio.assembly import CachedCounter
        from scribe.studio.context import describe

        assembly = tools.assemble(prompt, prompt_budget(backend.info.context_length, params.max_new_tokens),
                                  CachedCounter(backend.count_tokens, batch=backend.count_tokens_batch))
        if args.show_prompt:
            sys.stdout.write(assembly.prompt)
            sys.stdout.flush()
            print("\n".join(describe(assembly)), file=sys.stderr)
            return 0
        prompt = assembly.prompt
    ignored = backend.ignored(params)
    if ignored:
        print(f"note: {backend.info.name} cannot apply {', '.join(ignored)}; not used", file=sys.stderr)
    if backend.slower_because:
        print(f"note: {backend.slower_because}", file=sys.stderr)
    out = sys.stdout
    end: StreamEnd | None = None
    for item in backend.stream(prompt, params, alternatives=alternatives if args.json else 0):
        if isinstance(item, StreamEnd):
            end = item
        elif args.json:
            out.write(strict_json({"type": "token", **dataclasses.asdict(item)}) + "\n")
        else:
            out.write(item.text)
        out.flush()
    assert end is not None, "a stream always ends with a StreamEnd"
    if args.json:
        summary = {"type": "end", **dataclasses.asdict(end), "tokens_per_s": end.tokens_per_s, "model": backend.info.name}
        out.write(strict_json(summary) + "\n")
    else:  # stdout holds the continuation only; the figures go to stderr on a line of their own
        lead = "" if not end.text or end.text.endswith("\n") else "\n"
        print(f"{lead}[{end.tokens} tokens, {end.tokens_per_s:.1f} tokens/s, stopped: {end.reason}]", file=sys.stderr)
    if end.reason == "error":
        raise CommandError(end.error or "generation failed")
    return 0
