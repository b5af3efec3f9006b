"""Start-up: time from process start to the first screen of the TUI in a real terminal (tmux).

Each run respawns a tmux pane (120x40) with the command and polls `tmux capture-pane` about every 3 ms until the
screen shows the app's marker text; the time is from just before the respawn (the process starting: interpreter,
imports, settings, first layout and paint) to the first capture that shows the marker. The polling adds up to one
interval. scribe runs `python -m scribe tui` with a private SCRIBE_HOME (default settings: the bundled model loads in
a worker after the first screen); its first screen counts once the editor's title, the continuation view and the
footer are all drawn. The baseline in the same run is the floor for any Textual app: a minimal app (one Static
and a Footer) started the same way. Runs alternate, after one warm-up each (file-system caches).

    .venv/bin/python bench/ui_startup.py [--rounds 7]

Writes bench/results/ui_startup.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hardware import hardware

REPO = Path(__file__).resolve().parents[1]
RESULT = REPO / "bench" / "results" / "ui_startup.json"
SESSION = "scribe-bench-startup"
POLL_S = 0.003
MINIMAL_APP = """
from textual.app import App
from textual.widgets import Footer, Static
class Minimal(App):
    BINDINGS = [("ctrl+q", "quit", "Quit")]
    def compose(self):
        yield Static("minimal textual app")
        yield Footer()
Minimal().run()
"""


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], check=True, capture_output=True, text=True).stdout


def time_to_screen(command: str, markers: tuple[str, ...], timeout_s: float = 30.0) -> float:
    """Seconds from respawning the pane with `command` to a capture showing every marker."""
    start = time.perf_counter()
    tmux("respawn-pane", "-k", "-t", SESSION, command)
    while time.perf_counter() - start < timeout_s:
        screen = tmux("capture-pane", "-p", "-t", SESSION)
        if all(marker in screen for marker in markers):
            return time.perf_counter() - start
        time.sleep(POLL_S)
    raise TimeoutError(f"{command!r} showed no {markers} within {timeout_s} s:\n{screen}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="scribe-bench-") as tmp:
        minimal = Path(tmp) / "minimal_app.py"
        minimal.write_text(MINIMAL_APP, encoding="utf-8")
        env = f"cd {shlex.quote(str(REPO))} && SCRIBE_HOME={shlex.quote(tmp)}/home TERM=xterm-256color exec "
        commands = {
            "scribe": (env + f"{shlex.quote(sys.executable)} -m scribe tui", ("untitled", "continuation", "Continue")),
            "minimal_textual": (env + f"{shlex.quote(sys.executable)} {shlex.quote(str(minimal))}", ("minimal textual app", "Quit")),
        }
        tmux("new-session", "-d", "-s", SESSION, "-x", "120", "-y", "40", "sleep 600")
        try:
            times: dict[str, list[float]] = {name: [] for name in commands}
            for command, markers in commands.values():
                time_to_screen(command, markers)  # warm-up
            for round_index in range(args.rounds):
                for name, (command, markers) in commands.items():
                    times[name].append(time_to_screen(command, markers))
                print(f"round {round_index + 1}: " + ", ".join(f"{n} {t[-1] * 1000:.0f} ms" for n, t in times.items()))
        finally:
            subprocess.run(["tmux", "kill-session", "-t", SESSION], check=False, capture_output=True)

    median = {name: statistics.median(values) for name, values in times.items()}
    result = {
        "benchmark": "ui_startup",
        "settings": {"rounds": args.rounds, "terminal": "tmux 120x40", "poll_s": POLL_S},
        "hardware": hardware("cpu"),
        "scribe_first_screen_s": round(median["scribe"], 3),
        "minimal_textual_first_screen_s": round(median["minimal_textual"], 3),
        "ratio_scribe_over_minimal": round(median["scribe"] / median["minimal_textual"], 3),
        "scribe_max_s": round(max(times["scribe"]), 3),
        "runs": {name: [round(t, 4) for t in values] for name, values in times.items()},
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    hw = result["hardware"]
    print(f"hardware: {hw['cpu']}, {hw['cpu_count']} CPUs, load average {hw['load_average_1min']}")
    print(f"scribe first screen: {median['scribe'] * 1000:.0f} ms (median of {args.rounds}, max {max(times['scribe']) * 1000:.0f} ms)")
    print(f"minimal Textual app: {median['minimal_textual'] * 1000:.0f} ms")
    print(f"ratio scribe / minimal: {result['ratio_scribe_over_minimal']:.2f}")
    print(f"wrote {RESULT.relative_to(REPO)}")


if __name__ == "__main__":
    os.environ.setdefault("TERM", "xterm-256color")
    main()
