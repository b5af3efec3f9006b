"""`scribe models`: list the models scribe can use, show one, download one into the Hugging Face cache, remove one,
and configure remote endpoints."""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import time
from pathlib import Path
from typing import TextIO

from scribe.cli import CommandError
from scribe.store.catalog import COLUMNS, entry_row, find_model, list_models, size_label
from scribe.config import Paths
from scribe.store.hub import DownloadProgress, format_bytes
from scribe.store.names import check_listed_name, describe_folder_use, inside
from scribe.store.remotes import REMOTE_PREFIX, SERVERS


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `models` command and its subcommands."""
    parser = subparsers.add_parser(
        "models",
        help="list, inspect, download and remove models; configure remote servers",
        description="Models scribe can use: bundled, trained by scribe, GGUF files (in scribe's models folder and the "
        "folders of the gguf_folders setting), in the Hugging Face cache, remote servers, and the GPT-2 family offered "
        "for download.",
    )
    sub = parser.add_subparsers(dest="models_command", metavar="SUBCOMMAND", required=True)
    listing = sub.add_parser("list", help="every model with its size, parameters, context length and tokenizer")
    listing.add_argument("--json", action="store_true", help="one JSON object per model")
    listing.set_defaults(run=run_list)
    info = sub.add_parser("info", help="everything scribe knows about one model")
    info.add_argument("name", help="a name from `scribe models list`")
    info.add_argument("--json", action="store_true", help="print a JSON object")
    info.set_defaults(run=run_info)
    pull = sub.add_parser(
        "pull",
        help="download a model into the Hugging Face cache (resumes an interrupted download)",
        description="Download REPO[@REVISION] (or gpt2, gpt2-medium, gpt2-large, gpt2-xl, distilgpt2) into the Hugging "
        "Face cache: config, tokenizer and safetensors weights only. HF_ENDPOINT, HF_HOME, HF_HUB_OFFLINE and HF_TOKEN "
        "are respected. Ctrl-C stops it; running it again resumes. With --include, only the files matching the "
        "patterns: one quantisation of a GGUF repository, e.g. --include '*Q4_K_M.gguf'.",
    )
    pull.add_argument("spec", metavar="REPO[@REVISION]")
    pull.add_argument("--include", action="append", metavar="PATTERN", default=[],
                      help="download only the files whose names match PATTERN (shell-style, quote it); repeat for "
                      "several")
    pull.add_argument("--allow-pickle", action="store_true",
                      help="accept pickle weights (pytorch_model.bin) when there are no safetensors; pickle files can "
                      "run code when loaded: only for repositories you trust")
    pull.set_defaults(run=run_pull)
    rm = sub.add_parser("rm", help="delete a downloaded or trained model, or forget a remote endpoint")
    rm.add_argument("name")
    rm.add_argument("--yes", "-y", action="store_true", help="do not ask before deleting a model scribe trained")
    rm.set_defaults(run=run_rm)
    add = sub.add_parser(
        "add-remote",
        help="configure a model server (llama.cpp, Ollama, vLLM, KoboldCpp, OpenAI-compatible) as model remote:NAME",
        description="Add or replace a remote endpoint in remotes.toml. Without --server the kind is detected from the "
        "server's answers; without --model the server's only model is taken. The API key is never stored: give the "
        "NAME of the environment variable holding it.",
    )
    add.add_argument("name")
    add.add_argument("base_url", help="e.g. http://127.0.0.1:8080 (llama.cpp), http://127.0.0.1:11434 (Ollama)")
    add.add_argument("--model", help="the model name the server serves (default: its only one)")
    add.add_argument("--server", choices=SERVERS, help="server kind (default: detected from the server's answers)")
    add.add_argument("--chat", action="store_true", help="use /v1/chat/completions (chat models; OpenAI-style servers)")
    add.add_argument("--api-key-env", metavar="VAR", help="environment variable that holds the API key")
    add.add_argument("--context-length", type=int, metavar="N", help="the model's context window, if the server does not say")
    add.add_argument("--timeout", type=float, metavar="S", default=60.0,
                     help="give up when no text came for S seconds (default 60; keep-alive comments do not count)")
    add.add_argument("--deadline", type=float, metavar="S", help="give up when one answer takes longer than S seconds")
    add.add_argument("--ban", action="append", metavar="PHRASE", default=[],
                     help="a word or phrase the server must never write (KoboldCpp); repeat for several")
    add.set_defaults(run=run_add_remote)


def run_list(args: argparse.Namespace) -> int:
    """Print every model as an aligned table (or JSON lines)."""
    entries = list_models()
    if args.json:
        for entry in entries:
            print(json.dumps(dataclasses.asdict(entry)))
        return 0
    rows = [tuple(column.upper() for column in COLUMNS), *(entry_row(entry) for entry in entries)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[-1])
    return 0


def run_info(args: argparse.Namespace) -> int:
    """Print one model's details."""
    entry = find_model(args.name)
    if args.json:
        print(json.dumps(dataclasses.asdict(entry), indent=2))
        return 0
    lines = {
        "name": entry.name,
        "also called": ", ".join(entry.aliases) or None,
        "source": entry.source,
        "backend": entry.kind,
        "status": entry.status,
        "usable": "yes" if entry.usable else "no",
        "size": size_label(entry),
        "parameters": f"{entry.parameters:,}" if entry.parameters else None,
        "context length": f"{entry.context_length} tokens" if entry.context_length else None,
        "tokenizer": entry.tokenizer,
        "location": entry.location,
        "about": entry.description or None,
    }
    width = max(map(len, lines))
    for key, value in lines.items():
        if value is not None:
            print(f"{key:<{width}}  {value}")
    if entry.source == "offered":
        print(f"\ndownload it with: scribe models pull {entry.name}")
    if entry.source == "remote":
        from scribe.engine.remote.detect import capabilities
        from scribe.store.remotes import get_remote

        details = capabilities(get_remote(entry.name))
        width = max(map(len, details))
        print()
        for key, value in details.items():
            print(f"{key:<{width}}  {value}")
    return 0


def run_pull(args: argparse.Namespace) -> int:
    """Download with a progress bar on stderr."""
    from scribe.store.hub import parse_spec, pull

    spec = parse_spec(args.spec)
    bar = ProgressBar(sys.stderr)
    print(f"pulling {spec.repo_id} ({spec.revision}) into the Hugging Face cache", file=sys.stderr)
    try:
        pulled = pull(args.spec, include=args.include, allow_pickle=args.allow_pickle, progress=bar.update)
    except KeyboardInterrupt:
        bar.finish()
        print("scribe: pull interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    finally:
        bar.finish()
    note = f", {format_bytes(pulled.transferred_bytes)} transferred" if pulled.transferred_bytes != pulled.total_bytes else ""
    print(f"{spec}: {len(pulled.files)} files, {format_bytes(pulled.total_bytes)}{note}", file=sys.stderr)
    print(pulled.path)
    return 0


def run_rm(args: argparse.Namespace) -> int:
    """Delete a model from disk (or a remote from the configuration)."""
    from scribe.store.hub import remove
    from scribe.store.remotes import delete_remote

    entry = find_model(check_listed_name(args.name))
    if entry.source == "bundled":
        raise CommandError(f"{entry.name} is bundled with scribe and cannot be removed")
    if entry.source == "offered":
        raise CommandError(f"{entry.name} is not downloaded")
    if entry.kind == "gguf" and entry.source != "hf-cache":
        raise CommandError(f"{entry.name} is a GGUF file of yours; scribe does not delete it (delete the file yourself)")
    if entry.source == "remote":
        file = delete_remote(entry.name.removeprefix(REMOTE_PREFIX))
        print(f"forgot {entry.name} (in {file})", file=sys.stderr)
        return 0
    if entry.source == "scribe":
        folder = inside(Path(entry.location), Paths.discover().models)
        _ask_to_delete(f"{entry.name}, trained by scribe: {describe_folder_use(folder)}", args.yes)
        shutil.rmtree(folder)
        print(f"deleted {entry.name} ({size_label(entry)} freed)", file=sys.stderr)
        return 0
    repo_id = entry.name.partition("@")[0]
    _ask_to_delete(f"{repo_id} from the Hugging Face cache, every revision: {describe_folder_use(Path(entry.location))}",
                   args.yes)
    freed = remove(repo_id)
    print(f"removed {repo_id} from the Hugging Face cache (every revision), {format_bytes(freed)} freed", file=sys.stderr)
    return 0


def run_add_remote(args: argparse.Namespace) -> int:
    """Add a remote endpoint to remotes.toml, detecting the server kind and the model when not given."""
    import os

    from scribe.engine.remote import dialect_for
    from scribe.engine.remote.detect import NoServer, detect_server
    from scribe.store.remotes import RemoteEndpoint, save_remote

    # the name, the URL and the key's variable are checked before the server is asked anything
    RemoteEndpoint(name=args.name, base_url=args.base_url, model=args.model or "-", api_key_env=args.api_key_env)
    key = os.environ.get(args.api_key_env) if args.api_key_env else None
    server = args.server
    if server is None:
        try:
            server = detect_server(args.base_url, key)
        except NoServer as exc:
            raise CommandError(str(exc)) from None
    model = args.model
    if model is None:
        model = _only_model(args, server, key)
    endpoint = RemoteEndpoint(
        name=args.name, base_url=args.base_url, model=model, server=server, api_key_env=args.api_key_env,
        context_length=args.context_length, timeout_s=args.timeout, deadline_s=args.deadline, chat=args.chat,
        banned_phrases=tuple(args.ban),
    )
    file = save_remote(endpoint)
    how = "given" if args.server else "detected"
    print(f"added {REMOTE_PREFIX}{endpoint.name} ({server} server, {how}; model {model!r}; "
          f"{dialect_for(server, chat=args.chat).url(endpoint)}) to {file}", file=sys.stderr)
    return 0


def _only_model(args: argparse.Namespace, server: str, key: str | None) -> str:
    """The one model the server serves; CommandError naming them when there are several (or none)."""
    import httpx

    from scribe.engine.remote import dialect_for
    from scribe.engine.remote.secrets import redact
    from scribe.engine.remote.shapes import Malformed
    from scribe.store.remotes import RemoteEndpoint

    probe_endpoint = RemoteEndpoint(name="probe", base_url=args.base_url, model="?", server=server)
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        with httpx.Client(headers=headers, timeout=10.0) as client:
            models = dialect_for(server).probe(client, probe_endpoint).models
    except (httpx.HTTPError, Malformed, ValueError, TypeError, KeyError) as exc:
        raise CommandError(redact(f"{args.base_url}: cannot list the server's models ({type(exc).__name__}); "
                                  "give --model", key)) from None
    if len(models) != 1:
        raise CommandError(f"{args.base_url} serves {', '.join(models[:8]) or 'no model'}; pick one with --model")
    return models[0]


class ProgressBar:
    """A one-line download progress bar (bytes, speed, ETA), redrawn in place on a terminal; on anything else, one
    line per finished file."""

    WIDTH = 24

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.tty = out.isatty()
        self._files_done = 0
        self._drawn = False
        self._last = 0.0

    def update(self, p: DownloadProgress) -> None:
        """Show a progress report (called from the downloading thread)."""
        if self.tty:
            now = time.monotonic()
            if now - self._last < 0.1 and p.files_done == self._files_done:
                return
            self._last = now
            self.out.write("\r" + self.line(p) + "\x1b[K")
            self._drawn = True
        elif p.files_done > self._files_done:
            self.out.write(f"  {p.filename} ({p.files_done}/{p.files_total}, {format_bytes(p.done_bytes)} of "
                           f"{format_bytes(p.total_bytes)})\n")
        self._files_done = p.files_done
        self.out.flush()

    def line(self, p: DownloadProgress) -> str:
        """The bar's text for one report."""
        filled = int(self.WIDTH * p.fraction)
        return f"  [{'#' * filled}{'.' * (self.WIDTH - filled)}] {p.fraction:4.0%}  {p.describe()}"

    def finish(self) -> None:
        """End the bar's line."""
        if self._drawn:
            self.out.write("\n")
            self.out.flush()
            self._drawn = False


def _ask_to_delete(what: str, yes: bool) -> None:
    """Ask before deleting `what` (which says where and how much); CommandError when not confirmed."""
    if yes:
        return
    if sys.stdin.isatty() and input(f"delete {what}? [y/N] ").strip().lower() in ("y", "yes"):
        return
    raise CommandError(f"kept {what} (answer y, or pass --yes to delete without asking)")

