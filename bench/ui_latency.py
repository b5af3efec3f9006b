"""UI latency: keypress-to-echo in the editor while a real model streams at full speed, the stream view's repaint
rate, and a 100,000-word document, against the same app idle in the same run.

The real app (`ScribeApp`) runs headless under Textual's pilot at 120x40 with a real model (default: the bundled
`scribe-gutenberg`) decoding in its worker thread, restarted whenever a continuation ends so it never pauses. A
typist thread plays the terminal's input thread: it records the time, hands a key event to the driver (as a real
terminal's input thread does), and waits for the echo; between keys it pauses 15-35 ms (about 40 keys/s), and
every 25th key 0.6 s (a writer's pause: the app counts the tokens before the cursor after 0.4 s of quiet). Autosave
runs at its default interval (3 s).

Echo latency = time from handing over the key to the end of the first frame whose compositor update was made after
the editor's cursor moved (the typed character is in it). Each frame's terminal output is built
(`render_segments`), only the write to a terminal is skipped (headless). Stream repaints/s = batches of tokens
handed to the stream view per second of streaming (each becomes one repaint of the view at the next frame).

Scenarios: an idle short document (the baseline), streaming into a short document, an idle 100,000-word document
(typing in its middle), streaming with the 100,000-word document, an idle huge document (`--document-mb`,
default 50: Tiny Shakespeare repeated), and the huge document with a continuation pending (a continuation of its
first lines streamed, stopped after a second and left offered; the keys are typed before its mark, which each key
moves). In the huge-document scenarios the typist saves (ctrl+s) half-way: the save's time on the UI thread, its
time until "saved", and the slowest echo of the keys typed meanwhile are recorded.

Each scenario records the time to open (app start to its first frames, with the
document), the time to quit (autosave included), each autosave's journal write (in its worker), the UI thread's
part of it (handing the edits over), the slowest echo of the keys typed while a journal write ran, the process's
peak resident memory so far, and the resident memory the scenario added (sampled every 10 ms): after opening, by
loading the model once opened (0 when it loaded while the document opened), and at its peak while the model loads,
keys are typed, autosaves run and the app quits. The huge document's own memory (`huge_document_memory`, also as a
multiple of its size; the target is at most 10×) is its scenario's growth after opening and at the peak: an upper
bound, as the model's loading (torch is imported before the first scenario) falls in it too.

Every garbage collection while typing is timed (`garbage_collections`, `slowest_collection_ms`). `--diagnose` prints
the collections over 20 ms, each slow collection's objects (how many, the biggest container, whether the editor's or
the autosaver's lines are among them), and where the UI thread was (sampled every 5 ms) while a key waited more than
40 ms for its echo.

    .venv/bin/python bench/ui_latency.py [--keys 200] [--model scribe-gutenberg] [--document-mb 50] [--diagnose]

Writes bench/results/ui_latency.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import statistics
import string
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench_data import SHAKESPEARE

REPO = Path(__file__).resolve().parents[1]
BOOK = SHAKESPEARE
RESULT = REPO / "bench" / "results" / "ui_latency.json"
SIZE = (120, 40)


@dataclass
class Probe:
    """State shared by the typist thread and the frame hook (on the app's loop)."""

    pending: tuple[float, object] | None = None
    echoed: threading.Event = field(default_factory=threading.Event)
    latencies: list[float] = field(default_factory=list)
    key_times: list[tuple[float, float]] = field(default_factory=list)
    """(handed over, echoed) of each key."""
    frames: list[float] = field(default_factory=list)
    stream_batches: list[float] = field(default_factory=list)
    collections: list[tuple[float, float, int]] = field(default_factory=list)
    """(start, seconds, generation) of each garbage collection while typing."""
    stalls: dict[str, int] = field(default_factory=dict)
    """`--diagnose`: the UI thread's innermost scribe/textual frames, sampled while a key waits over 40 ms."""


def watch_collections(probe: Probe, diagnose: bool = False) -> None:
    """Record every garbage collection's start, duration and generation (`Probe.collections`); `diagnose`: also
    describe each slow collection's objects (how many, the biggest container, whether the editor's or the
    autosaver's list of lines is among them) (`Probe.stalls`)."""
    import gc
    import sys

    began: list[tuple[float, tuple[int, int, int, str] | None]] = []

    def callback(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            young = None
            if diagnose:
                items = [item for generation in range(info["generation"] + 1)
                         for item in gc.get_objects(generation=generation)]
                sizes = [len(item) for item in items if isinstance(item, (list, dict, tuple, set))]
                app = getattr(probe, "app", None)
                lines = getattr(getattr(getattr(app, "editor", None), "document", None), "_lines", None)
                mirror = getattr(getattr(app, "autosaver", None), "_lines", None)
                ids = {id(item) for item in items}
                own = (" EDITOR'S LINES" if id(lines) in ids else "") + (" AUTOSAVER'S LINES" if id(mirror) in ids else "")
                young = (len(items), max(sizes, default=0), sum(sizes), sys._getframe(1).f_code.co_name + own)
            began.append((time.perf_counter(), young))
        elif began:
            start, young = began.pop()
            seconds = time.perf_counter() - start
            probe.collections.append((start, seconds, info["generation"]))
            if young is not None and seconds > 0.03:
                key = (f"slow gen {info['generation']} collection: {young[0]:,} objects, biggest container "
                       f"{young[1]:,} items, {young[2]:,} items in all (from {young[3]}) {1000 * seconds:.0f} ms")
                probe.stalls[key] = probe.stalls.get(key, 0) + 1

    gc.callbacks.append(callback)


def sample_stalls(probe: Probe, main: int, stop: threading.Event) -> None:
    """`--diagnose` (a thread): every 5 ms while a key has waited over 40 ms for its echo, count where the UI thread
    is (its three innermost frames in scribe or textual code, with the innermost frame of any library below)."""
    import sys
    import traceback

    while not stop.wait(0.005):
        pending = probe.pending
        if pending is None or time.perf_counter() - pending[0] < 0.04:
            continue
        frame = sys._current_frames().get(main)
        if frame is None:
            continue
        stack = traceback.extract_stack(frame)
        ours = [f for f in stack if "/scribe/" in f.filename or "/textual/" in f.filename]
        where = " < ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in reversed(ours[-3:]))
        inner = stack[-1]
        key = f"{Path(inner.filename).name}:{inner.lineno} {inner.name} | {where}"
        probe.stalls[key] = probe.stalls.get(key, 0) + 1


def rss_mb() -> float:
    """The process's resident memory now, in MB (Linux)."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def sample_rss(peak: list[float], stop: threading.Event) -> None:
    """(A thread) keep `peak[0]` at the highest resident memory seen, sampled every 10 ms until `stop`."""
    while not stop.wait(0.01):
        peak[0] = max(peak[0], rss_mb())


def long_document(words: int) -> str:
    """The first `words` words of Tiny Shakespeare, with its paragraphs (speeches)."""
    paragraphs, count = [], 0
    for paragraph in BOOK.read_text(encoding="utf-8-sig").split("\n\n"):
        paragraph = " ".join(paragraph.split())
        if not paragraph:
            continue
        take = paragraph.split()[: words - count]
        paragraphs.append(" ".join(take))
        count += len(take)
        if count >= words:
            break
    return "\n\n".join(paragraphs) + "\n"


def huge_document(megabytes: float) -> str:
    """Tiny Shakespeare repeated to `megabytes` million characters."""
    book = BOOK.read_text(encoding="utf-8-sig")
    size = int(megabytes * 1_000_000)
    return (book * (size // len(book) + 1))[:size]


def hook_frames(app, probe: Probe) -> None:
    """Time every frame; a frame made after the cursor moved off the pending key's start echoes that key."""
    from textual._compositor import CompositorUpdate

    display = app._display

    def timed_display(screen, renderable) -> None:
        if renderable is None or app._batch_count:
            return display(screen, renderable)
        moved = probe.pending is not None and app.editor.cursor_location != probe.pending[1]
        display(screen, renderable)
        if isinstance(renderable, CompositorUpdate):
            renderable.render_segments(app.console)  # what a terminal driver builds and writes
        now = time.perf_counter()
        probe.frames.append(now)
        if moved and probe.pending is not None:
            probe.latencies.append(now - probe.pending[0])
            probe.key_times.append((probe.pending[0], now))
            probe.pending = None
            probe.echoed.set()

    app._display = timed_display


def type_keys(app, probe: Probe, keys: int, seed: int, save_at: int | None = None) -> None:
    """The typist (a thread): one key at a time, waiting for each echo (2 s at most); ctrl+s before key `save_at`
    (not waited for: it echoes nothing)."""
    from textual import events

    chooser = random.Random(seed)
    for index in range(keys):
        time.sleep(0.6 if index % 25 == 24 else chooser.uniform(0.015, 0.035))
        if index == save_at:
            app._driver.process_message(events.Key("ctrl+s", None))
            time.sleep(chooser.uniform(0.015, 0.035))
        char = chooser.choice(string.ascii_lowercase + " ")
        key = events.Key("space" if char == " " else char, char)
        probe.echoed.clear()
        probe.pending = (time.perf_counter(), app.editor.cursor_location)
        app._driver.process_message(key)
        if not probe.echoed.wait(2.0):
            probe.pending = None
            probe.latencies.append(2.0)


async def scenario(model: str, text: str, streaming: bool, keys: int, seed: int,
                   diagnose: bool = False, pending: bool = False, save: bool = False) -> dict[str, float]:
    """Run the app on `text`, type `keys` keys (while streaming, or with a continuation pending, if asked; saving
    half-way if asked) and summarise the timings."""
    from scribe.config import Paths, Settings
    from scribe.sampling.params import SamplingParams
    from scribe.ui.app import ScribeApp

    with tempfile.TemporaryDirectory(prefix="scribe-bench-ui-") as tmp:
        os.environ["SCRIBE_HOME"] = str(Path(tmp) / "home")
        document = Path(tmp) / "document.txt"
        document.write_text(text, encoding="utf-8")
        settings = Settings(model=model, device="cpu", dtype="float32",
                            sampling=SamplingParams(max_new_tokens=2000, seed=seed))
        app = ScribeApp(document, settings=settings, paths=Paths.discover())
        probe = Probe()
        autosaves: list[float] = []
        journal_writes: list[tuple[float, float]] = []
        handovers: list[float] = []
        journal_write = app.autosaver.write_queued
        autosave = app.autosave

        def timed_write() -> bool:  # the journal write (in the worker, or on the UI thread at quit), timed
            began = time.perf_counter()
            written = journal_write()
            if written:
                autosaves.append(time.perf_counter() - began)
                journal_writes.append((began, time.perf_counter()))
            return written

        def timed_autosave() -> None:  # the UI thread's part of an autosave (the timer's and a typing pause's)
            began = time.perf_counter()
            autosave()
            handovers.append(time.perf_counter() - began)

        app.autosaver.write_queued = timed_write
        app.autosave = timed_autosave
        saves: list[tuple[float, float, float]] = []
        """(asked, UI thread done, written) of each save."""
        guard = app.save_guard
        start_save, finish_save = guard.save, guard.finish

        def timed_save(*args, **kwargs) -> None:
            began = time.perf_counter()
            start_save(*args, **kwargs)
            saves.append((began, time.perf_counter(), 0.0))

        def timed_finish(*args, **kwargs) -> None:
            finish_save(*args, **kwargs)
            if saves:
                saves[-1] = (*saves[-1][:2], time.perf_counter())

        guard.save, guard.finish = timed_save, timed_finish
        import gc

        gc.collect()
        rss_before = rss_mb()  # the bench's own copy of the text (and the file's page cache) not counted after
        peak_rss = [rss_before]
        stop_rss = threading.Event()
        threading.Thread(target=sample_rss, args=(peak_rss, stop_rss), daemon=True).start()
        opening = time.perf_counter()
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()  # the first frames, with the document's first screen
            opened = time.perf_counter() - opening
            rss_opened, loaded_at_open = rss_mb(), app.backend is not None
            while app.backend is None and app.model_state != "error":
                await asyncio.sleep(0.05)
            if app.backend is None:
                raise RuntimeError(f"model {model} did not load")
            rss_model = rss_mb() - rss_opened
            editor = app.editor
            editor.move_cursor((editor.document.line_count // 2, 0))
            if pending:  # a continuation of the first lines, stopped after a second, stays offered
                editor.move_cursor((40, 0))
                app.action_continue()
                await asyncio.sleep(1.0)
                app.action_stop()
                while app.generating:
                    await asyncio.sleep(0.05)
                editor.move_cursor((20, 0))  # typing before the mark: each key moves it
            await pilot.pause()
            mark_before = editor.mark
            view = app.stream_view
            add = view.add

            def counted_add(items) -> None:
                probe.stream_batches.append(time.perf_counter())
                add(items)

            view.add = counted_add
            tokens_before = 0
            if streaming:
                app.action_continue()
            hook_frames(app, probe)
            probe.app = app  # type: ignore[attr-defined]
            watch_collections(probe, diagnose)
            stop_sampling = threading.Event()
            if diagnose:
                threading.Thread(target=sample_stalls, args=(probe, threading.get_ident(), stop_sampling),
                                 daemon=True).start()
            typist = threading.Thread(target=type_keys, args=(app, probe, keys, seed, keys // 2 if save else None))
            start = time.perf_counter()
            typist.start()
            runs = 0
            while typist.is_alive():
                if streaming and not app.generating:  # keep the model busy: a new continuation at once
                    tokens_before += len(view.steps)
                    runs += 1
                    app.action_regenerate()
                await asyncio.sleep(0.01)
            elapsed = time.perf_counter() - start
            stop_sampling.set()
            gc.callbacks.clear()
            tokens = tokens_before + len(view.steps)
            while guard.saving is not None:  # the save typed half-way is written
                await asyncio.sleep(0.05)
            mark_after = editor.mark
            typed_before_mark = editor.document.get_text_range((20, 0), editor.cursor_location) if pending else ""
            app.action_reject()
            await pilot.pause()
            quitting = time.perf_counter()
        quit_s = time.perf_counter() - quitting
        stop_rss.set()
    latencies = sorted(probe.latencies)
    if diagnose:
        print(f"garbage collections while typing: {len(probe.collections)}; over 20 ms: "
              + ", ".join(f"gen {g} {1000 * d:.0f} ms" for _, d, g in probe.collections if d > 0.02))
        for where, count in sorted(probe.stalls.items(), key=lambda item: -item[1])[:12]:
            print(f"  {count * 5:5d} ms  {where}")
    slowest_collection = max((d for _, d, _ in probe.collections), default=0.0)
    during_writes = [end - start for start, end in probe.key_times
                     if any(start < stop and end > began for began, stop in journal_writes)]
    during_saves = [end - start for start, end in probe.key_times
                     if any(start < written and end > began for began, _, written in saves)]
    return {
        "keys": len(latencies),
        "echo_p50_ms": round(1000 * statistics.median(latencies), 2),
        "echo_p99_ms": round(1000 * latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))], 2),
        "echo_max_ms": round(1000 * latencies[-1], 2),
        "frames_per_s": round(len(probe.frames) / elapsed, 1),
        "stream_repaints_per_s": round(len(probe.stream_batches) / elapsed, 1) if streaming else None,
        "streamed_tokens_per_s": round(tokens / elapsed, 1) if streaming else None,
        "continuations": runs + 1 if streaming else 0,
        "seconds": round(elapsed, 2),
        "document_words": len(text.split()),
        "document_mb": round(len(text.encode("utf-8")) / 1e6, 1),
        "open_s": round(opened, 2),
        "quit_s": round(quit_s, 2),
        "autosaves": len(autosaves),
        "autosave_first_ms": round(1000 * autosaves[0], 1) if autosaves else None,
        "autosave_later_max_ms": round(1000 * max(autosaves[1:]), 1) if len(autosaves) > 1 else None,
        "autosave_ui_thread_max_ms": round(1000 * max(handovers), 2) if handovers else None,
        "keys_during_journal_writes": len(during_writes),
        "echo_max_during_journal_writes_ms": round(1000 * max(during_writes), 2) if during_writes else None,
        "journal_bytes_written": app.autosaver.bytes_written,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "rss_added_by_opening_mb": round(rss_opened - rss_before),
        "model_loaded_at_open": loaded_at_open,
        "rss_added_by_model_mb": round(rss_model),
        "peak_rss_added_mb": round(peak_rss[0] - rss_before),
        "continuation_pending": pending,
        "mark_moved_by_the_typed_keys": (mark_after - mark_before == len(typed_before_mark)) if pending else None,
        "saves": len(saves),
        "save_ui_thread_ms": round(1000 * max(done - began for began, done, _ in saves), 1) if saves else None,
        "save_until_saved_s": round(max(written - began for began, _, written in saves), 2) if saves else None,
        "keys_during_saves": len(during_saves),
        "echo_max_during_saves_ms": round(1000 * max(during_saves), 2) if during_saves else None,
        "garbage_collections": len(probe.collections),
        "slowest_collection_ms": round(1000 * slowest_collection, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keys", type=int, default=200)
    parser.add_argument("--model", default="scribe-gutenberg")
    parser.add_argument("--words", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--document-mb", type=float, default=50.0,
                        help="size of the huge-document scenario (Tiny Shakespeare repeated); 0 leaves it out")
    parser.add_argument("--huge-only", action="store_true",
                        help="run only the idle short and huge documents; write bench/results/ui_latency_huge.json")
    parser.add_argument("--diagnose", action="store_true",
                        help="print the garbage collections and where the UI thread was while keys waited over 40 ms")
    args = parser.parse_args()
    from scribe.engine.threads import prepare_cpu_threads

    prepare_cpu_threads()  # as `scribe tui` does before torch loads
    from hardware import hardware

    short = long_document(300)
    long = long_document(args.words)
    plan = {
        "idle_short": (short, False),
        "streaming_short": (short, True),
        "idle_100k_words": (long, False),
        "streaming_100k_words": (long, True),
    }
    huge_name = f"idle_{args.document_mb:g}mb"
    pending_name = f"continuation_pending_{args.document_mb:g}mb"
    if args.document_mb:
        plan[huge_name] = plan[pending_name] = (huge_document(args.document_mb), False)
    if args.huge_only:
        plan = {name: plan[name] for name in ("idle_short", huge_name, pending_name)}
    results = {}
    for name, (text, streaming) in plan.items():
        results[name] = asyncio.run(scenario(args.model, text, streaming, args.keys, args.seed, args.diagnose,
                                             pending=name == pending_name, save=name in (huge_name, pending_name)))
        r = results[name]
        print(f"{name}: echo p50 {r['echo_p50_ms']} ms, p99 {r['echo_p99_ms']} ms, max {r['echo_max_ms']} ms, "
              f"{r['frames_per_s']} frames/s"
              + (f", stream repaints {r['stream_repaints_per_s']}/s, {r['streamed_tokens_per_s']} tokens/s" if streaming else ""))
    result = {
        "benchmark": "ui_latency",
        "settings": {"keys": args.keys, "model": args.model, "size": SIZE, "key_gap_ms": [15, 35], "pause_every_25_keys_s": 0.6},
        "hardware": hardware("cpu"),
        "scenarios": results,
    }
    if not args.huge_only:
        result.update({
            "streaming_echo_p99_ms": results["streaming_short"]["echo_p99_ms"],
            "ratio_streaming_over_idle_p99": round(results["streaming_short"]["echo_p99_ms"] / results["idle_short"]["echo_p99_ms"], 3),
            "stream_repaints_per_s": results["streaming_short"]["stream_repaints_per_s"],
            "long_document_streaming_echo_p99_ms": results["streaming_100k_words"]["echo_p99_ms"],
        })
    if args.document_mb:
        huge = results[f"idle_{args.document_mb:g}mb"]
        opening, peak = huge["rss_added_by_opening_mb"], huge["peak_rss_added_mb"]
        result["huge_document_memory"] = {
            "opening_mb": opening, "opening_times_size": round(opening / huge["document_mb"], 1),
            "peak_mb": peak, "peak_times_size": round(peak / huge["document_mb"], 1),
        }
    path = RESULT.with_name("ui_latency_huge.json") if args.huge_only else RESULT
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    hw = result["hardware"]
    print(f"hardware: {hw['cpu']}, {hw['cpu_count']} CPUs, {hw['torch_threads']} torch threads, load average {hw['load_average_1min']}")
    if not args.huge_only:
        print(f"echo p99 while streaming: {result['streaming_echo_p99_ms']} ms "
              f"(idle {results['idle_short']['echo_p99_ms']} ms, ratio {result['ratio_streaming_over_idle_p99']})")
    if args.document_mb:
        huge = results[f"idle_{args.document_mb:g}mb"]
        print(f"{huge['document_mb']} MB document: open {huge['open_s']} s, echo p50 {huge['echo_p50_ms']} ms, "
              f"p99 {huge['echo_p99_ms']} ms, quit {huge['quit_s']} s, autosaves {huge['autosaves']} (journal write in "
              f"the worker: first {huge['autosave_first_ms']} ms, later ≤{huge['autosave_later_max_ms']} ms; the UI "
              f"thread's part ≤{huge['autosave_ui_thread_max_ms']} ms; {huge['keys_during_journal_writes']} keys typed "
              f"during a write, echo ≤{huge['echo_max_during_journal_writes_ms']} ms), peak RSS {huge['peak_rss_mb']} MB "
              "(the whole bench process, the model included)")
        for name in (huge_name, pending_name):
            r = results[name]
            print(f"{name}: echo p99 {r['echo_p99_ms']} ms; ctrl+s: {r['save_ui_thread_ms']} ms on the UI thread, "
                  f"saved after {r['save_until_saved_s']} s, {r['keys_during_saves']} keys typed meanwhile "
                  f"(echo ≤{r['echo_max_during_saves_ms']} ms)"
                  + (f"; the mark moved with the keys typed before it: {r['mark_moved_by_the_typed_keys']}"
                     if r["continuation_pending"] else ""))
        memory = result["huge_document_memory"]
        print(f"the document's own memory (the scenario's RSS growth; at most, as the model's loading is in it too: "
              f"{results['idle_short']['rss_added_by_model_mb']} MB in the short scenario): {memory['opening_mb']} MB "
              f"after opening ({memory['opening_times_size']}× its size), peak {memory['peak_mb']} MB while typing, "
              f"autosaving and quitting ({memory['peak_times_size']}×)")
    print(f"wrote {path.relative_to(REPO)}")


if __name__ == "__main__":
    main()
