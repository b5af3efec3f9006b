"""The studio's thread workers run in threads that end with their work, so no OpenMP team outlives a stream (a second
live team makes GNU OpenMP cut every spin short and decoding wait as if passively)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

from scribe.config import Settings
from scribe.ui.app import ScribeApp
from scribe.ui.worker_threads import ThreadPerTask


CHILD = """
import os, sys, time
from concurrent.futures import ThreadPoolExecutor
import torch
from scribe.ui.worker_threads import ThreadPerTask

torch.set_num_threads(2)


def native_threads():
    return len(os.listdir("/proc/self/task"))


def settled(expected):
    end = time.monotonic() + 5
    while native_threads() != expected and time.monotonic() < end:
        time.sleep(0.02)
    return native_threads()


def parallel_work():
    return float(torch.ones(4_000_000).mul(2).sum())


parallel_work()  # the main thread's own team, before counting
before = native_threads()
with ThreadPerTask() as executor:
    assert executor.submit(parallel_work).result() == 8_000_000
    after_own_thread = settled(before)
with ThreadPoolExecutor(max_workers=1) as pool:  # what Textual's default executor does
    pool.submit(parallel_work).result()
    after_pool_thread = settled(before)
print(before, after_own_thread, after_pool_thread)
"""


@pytest.mark.skipif(not os.path.isdir("/proc/self/task") or (os.cpu_count() or 1) < 2, reason="Linux, 2+ cores")
def test_the_openmp_team_of_torch_work_goes_with_its_thread() -> None:
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, check=True, timeout=120)
    before, after_own_thread, after_pool_thread = map(int, out.stdout.split())
    assert after_own_thread == before, "the worker thread and its OpenMP team have ended"
    assert after_pool_thread > before, "a pool thread (and its OpenMP team) lives on"


def test_errors_reach_the_caller_and_shutdown_waits_for_running_work() -> None:
    executor = ThreadPerTask()
    with pytest.raises(ValueError, match="bad"):
        executor.submit(lambda: (_ for _ in ()).throw(ValueError("bad"))).result()
    finished = threading.Event()
    executor.submit(lambda: (time.sleep(0.2), finished.set()))
    executor.shutdown(wait=True)
    assert finished.is_set()


async def test_model_work_in_the_studio_leaves_no_thread_behind(settings: Settings) -> None:
    app = ScribeApp(settings=settings)
    async with app.run_test(size=(110, 32)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.model_state == "ready"
        for _ in range(2):
            app.editor.load_text("Once upon a time there was")
            await pilot.press("ctrl+enter")
            await app.workers.wait_for_complete()
            while app.generating:
                await pilot.pause(0.05)
            await pilot.press("escape")
        assert "Once upon a time there was" in app.editor.text
        time.sleep(0.1)
        left = [thread.name for thread in threading.enumerate()
                if thread.name.startswith(("asyncio_", "scribe-worker")) and thread.is_alive()]
        assert left == [], "the load and both streams ran in threads that have ended"
