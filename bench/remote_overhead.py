"""Overhead of scribe's remote client: tokens/s through `RemoteBackend.stream` (llama.cpp dialect, 5 alternatives per
token, every value checked, the guard thread watching) against a plain httpx loop that reads the same stream and
parses each event's JSON, from the same local server, interleaved rounds, median.

The server runs in a child process so that it does not share the client's interpreter: by default a minimal server
written here that sends llama.cpp's `/completion` stream (pre-encoded events with `completion_probabilities`) as fast
as it can, so the client is the bottleneck (the worst case for the overhead); with `--llama-server PATH` llama.cpp's
own server on a tiny GGUF (needs the `gguf` package), where the model sets the pace.

    .venv/bin/python bench/remote_overhead.py [--tokens 2000] [--rounds 5] [--llama-server PATH]

Writes bench/results/remote_overhead.json.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULT = REPO / "bench" / "results" / "remote_overhead.json"
PROMPT = "Once upon a time"
WORDS = (" the", " cat", " sat", " on", " a", " warm", " mat", ".")


def serve(port: int) -> None:
    """A llama.cpp-shaped `/completion` server: `n_predict` events with five alternatives each, then the stop event."""
    events = []
    for i, word in enumerate(WORDS):
        top = [{"id": r, "token": w, "bytes": list(w.encode()), "logprob": -0.1 * (r + 1)} for r, w in enumerate(WORDS[:5])]
        event = {"index": 0, "content": word, "tokens": [i], "stop": False, "id_slot": 0, "tokens_evaluated": 4,
                 "completion_probabilities": [{"id": i, "token": word, "bytes": list(word.encode()),
                                               "logprob": -0.1, "top_logprobs": top}]}
        payload = f"data: {json.dumps(event)}\n\n".encode()
        events.append(b"%x\r\n%s\r\n" % (len(payload), payload))

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # /health
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            n = body["n_predict"]
            out = b"".join(events[i % len(events)] for i in range(n))
            last = json.dumps({"content": "", "stop": True, "stop_type": "limit", "tokens_evaluated": 4}).encode()
            last = b"data: " + last + b"\n\n"
            self.wfile.write(out + b"%x\r\n%s\r\n0\r\n\r\n" % (len(last), last))

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(llama_server: str | None, tmp: Path) -> tuple[subprocess.Popen, str]:
    import httpx

    port = free_port()
    if llama_server:
        sys.path.insert(0, str(REPO / "tests"))
        from servers.gguf_model import write_tiny_llama

        model = write_tiny_llama(tmp / "tiny.gguf", context_length=4096)
        command = [llama_server, "-m", str(model), "--host", "127.0.0.1", "--port", str(port), "-c", "4096", "-t", "1"]
    else:
        command = [sys.executable, __file__, "--serve", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    root = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(root + "/health", timeout=1).status_code == 200:
                return process, root
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.kill()
    raise SystemExit("the server did not start")


PARAMS_TEMPERATURE = 0.0


def make_backend(root: str):
    from scribe.engine.remote_backend import RemoteBackend
    from scribe.store.remotes import RemoteEndpoint

    return RemoteBackend(RemoteEndpoint(name="bench", base_url=root, model="m", server="llama.cpp"))


def params(tokens: int):
    from scribe.sampling.params import SamplingParams

    return SamplingParams(max_new_tokens=tokens, temperature=PARAMS_TEMPERATURE)


def scribe_rate(root: str, tokens: int) -> float:
    from scribe.engine.base import StreamEnd

    backend = make_backend(root)  # its httpx client is made here, before the clock starts
    started = time.perf_counter()
    count = 0
    for item in backend.stream(PROMPT, params(tokens), alternatives=5):
        if isinstance(item, StreamEnd):
            assert item.error is None, item.error
        else:
            count += 1
    backend.close()
    return count / (time.perf_counter() - started)


def httpx_rate(root: str, tokens: int) -> float:
    """The baseline: the same request body (so the server does the same work), each event's JSON parsed, nothing else."""
    import httpx

    body = make_backend(root).request_body(PROMPT, params(tokens), 5)
    with httpx.Client(timeout=60) as client:  # made before the clock starts, as the backend's is
        started = time.perf_counter()
        count = 0
        with client.stream("POST", root + "/completion", json=body) as response:
            for line in response.iter_lines():
                if line.startswith("data: "):
                    event = json.loads(line[6:])
                    if event.get("content") or event.get("completion_probabilities"):
                        count += 1
        return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--llama-server", help="path of llama.cpp's llama-server binary (default: the minimal server)")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve(args.serve)
    import os
    import platform
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        process, root = start_server(args.llama_server, Path(tmp))
        try:
            scribe_rate(root, 50), httpx_rate(root, 50)  # warm-up
            rates: dict[str, list[float]] = {"scribe": [], "httpx": []}
            for _ in range(args.rounds):
                rates["httpx"].append(httpx_rate(root, args.tokens))
                rates["scribe"].append(scribe_rate(root, args.tokens))
        finally:
            process.terminate()
            process.wait(timeout=20)
    scribe, plain = statistics.median(rates["scribe"]), statistics.median(rates["httpx"])
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               platform.machine())
    result = {
        "server": "llama-server " + args.llama_server if args.llama_server else "minimal llama.cpp-shaped server",
        "tokens": args.tokens, "rounds": args.rounds, "scribe_tokens_per_s": round(scribe, 1),
        "httpx_tokens_per_s": round(plain, 1), "ratio": round(scribe / plain, 3), "overhead_percent": round(100 * (1 - scribe / plain), 1),
        "all_rounds": rates, "cpu": cpu, "cpu_count": os.cpu_count(), "load_average_1min": round(os.getloadavg()[0], 2),
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2) + "\n")
    print(f"scribe remote client {scribe:,.0f} tok/s, plain httpx loop {plain:,.0f} tok/s: ratio {scribe / plain:.3f} "
          f"({result['overhead_percent']} % overhead); {cpu}, load {result['load_average_1min']}")


if __name__ == "__main__":
    main()
