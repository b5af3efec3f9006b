"""The CPU thread settings: a short OpenMP spin unless the user chose a policy, SCRIBE_THREADS, and the thread count of
each step chosen from the load the other programs put on the cores."""

from __future__ import annotations

import json
import os
import subprocess
import time
import sys

import pytest

from scribe.engine.threads import (SPIN_COUNT, OtherLoad, StepThreads, machine_busy_seconds, prepare_cpu_threads,
                                   requested_threads, training_environment)


def test_a_short_spin_is_asked_for_only_when_nobody_chose() -> None:
    code = (
        "import json, os, sys\n"
        "from scribe.engine.threads import prepare_cpu_threads\n"
        "applied = prepare_cpu_threads()\n"
        "import torch\n"
        "print(json.dumps([applied, os.environ.get('GOMP_SPINCOUNT'), os.environ.get('OMP_WAIT_POLICY'),\n"
        "                  os.environ.get('THP_MEM_ALLOC_ENABLE'), prepare_cpu_threads()]))\n"
    )
    env = {"PATH": "/usr/bin:/bin"}
    fresh = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert json.loads(fresh.stdout) == [True, str(SPIN_COUNT), None, "1", False]  # torch imported: too late to change
    chosen = subprocess.run([sys.executable, "-c", code], env={**env, "OMP_WAIT_POLICY": "PASSIVE",
                                                               "THP_MEM_ALLOC_ENABLE": "0"},
                            capture_output=True, text=True, check=True)
    assert json.loads(chosen.stdout) == [False, None, "PASSIVE", "0", False]


def test_training_processes_run_without_the_huge_pages_scribe_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "torch", raising=False)  # as in a fresh process: the settings can still apply
    chosen_by_scribe: dict[str, str] = {"PATH": "/bin"}
    prepare_cpu_threads(chosen_by_scribe)
    assert chosen_by_scribe["THP_MEM_ALLOC_ENABLE"] == "1"
    assert training_environment(chosen_by_scribe) == {"PATH": "/bin", "GOMP_SPINCOUNT": str(SPIN_COUNT)}
    chosen_by_user = {"THP_MEM_ALLOC_ENABLE": "1"}
    prepare_cpu_threads(chosen_by_user)
    assert training_environment(chosen_by_user)["THP_MEM_ALLOC_ENABLE"] == "1"
    not_asked: dict[str, str] = {}
    prepare_cpu_threads(not_asked, huge_pages=False)
    assert "THP_MEM_ALLOC_ENABLE" not in not_asked


def test_scribe_threads() -> None:
    assert requested_threads({}) is None
    assert requested_threads({"SCRIBE_THREADS": " 3 "}) == 3
    for bad in ("0", "-1", "two"):
        with pytest.raises(ValueError, match="SCRIBE_THREADS"):
            requested_threads({"SCRIBE_THREADS": bad})


def test_loading_a_model_applies_scribe_threads(tiny_model_dir, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from scribe.engine.base import ModelLoadError
    from scribe.engine.transformers_backend import TransformersBackend

    before = torch.get_num_threads()
    try:
        monkeypatch.setenv("SCRIBE_THREADS", "1")
        backend = TransformersBackend.load(tiny_model_dir, device="cpu")
        assert torch.get_num_threads() == 1
        assert backend.info.extra["cpu_threads"] == "1"
        monkeypatch.setenv("SCRIBE_THREADS", "many")
        with pytest.raises(ModelLoadError, match="SCRIBE_THREADS"):
            TransformersBackend.load(tiny_model_dir, device="cpu")
    finally:
        torch.set_num_threads(before)


def test_intra_op_threads_sets_the_count_for_the_block_and_gives_it_back() -> None:
    import torch

    from scribe.engine.threads import intra_op_threads

    before = torch.get_num_threads()
    with intra_op_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with intra_op_threads(None):
        assert torch.get_num_threads() == before
    try:
        with intra_op_threads(1):
            raise RuntimeError("fails inside")
    except RuntimeError:
        pass
    assert torch.get_num_threads() == before


class FakeLoad(OtherLoad):
    """`OtherLoad` on counters the test moves: the machine's busy seconds, this process's, and the clock."""

    def __init__(self) -> None:
        self.machine = self.process = self.now = 0.0
        super().__init__(lambda: self.machine, lambda: self.process, lambda: self.now)

    def advance(self, seconds: float, *, ours: float, others: float) -> None:
        self.now += seconds
        self.process += ours * seconds
        self.machine += (ours + others) * seconds


def test_other_load_subtracts_this_process_from_the_machine() -> None:
    load = FakeLoad()
    assert load.cores() is None, "the first look has nothing to compare with"
    load.advance(0.5, ours=2.0, others=0.0)
    assert load.cores() == pytest.approx(0.0)
    load.advance(0.5, ours=1.0, others=1.0)
    assert load.cores() == pytest.approx(1.0)
    assert load.cores() is None, "no time has passed"


def test_steps_use_every_thread_on_a_quiet_machine_and_give_cores_to_busy_programs(monkeypatch) -> None:
    import torch

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    before = torch.get_num_threads()
    torch.set_num_threads(4)
    try:
        load = FakeLoad()
        threads = StepThreads(load=load, clock=lambda: load.now)
        seen = []

        def step() -> None:
            with threads.scope(prompt=False):
                seen.append(torch.get_num_threads())
            load.advance(0.3, ours=4.0, others=others)

        others = 0.0
        for _ in range(3):
            step()
        others = 2.2  # two busy programs, and a bit
        for _ in range(3):
            step()
        others = 3.9
        for _ in range(3):
            step()
        others = 0.1
        for _ in range(3):
            step()
        assert seen == [4, 4, 4, 4, 2, 2, 2, 1, 1, 1, 4, 4]  # each look sees the step before it
        others = 3.9
        step()
        load.advance(5.0, ours=0.0, others=4.0)  # between two streams the others took every core, then stopped
        others = 0.0
        for _ in range(2):
            step()
        assert seen[-3:] == [4, 4, 4], "a pause starts a new window: the steps after it take every thread"
        with threads.scope(prompt=True):
            assert torch.get_num_threads() == 4, "the prompt runs on torch's setting"
        with StepThreads(1).scope(prompt=False):
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 4
    finally:
        torch.set_num_threads(before)


def test_a_busy_process_shows_in_the_machine_load(tmp_path) -> None:
    if machine_busy_seconds() is None:
        pytest.skip("no /proc/stat here")
    load = OtherLoad()
    load.cores()
    busy = subprocess.Popen([sys.executable, "-c", "import time\nend = time.time() + 1.5\nwhile time.time() < end: pass"])
    try:
        time.sleep(1.0)
        assert load.cores() > 0.4, "a process spinning for a second is another program's load"
    finally:
        busy.wait()
    stat = tmp_path / "stat"
    stat.write_text("cpu  100 0 50 1000 20 5 5 40 0 0\ncpu0 ...\n")
    assert machine_busy_seconds(str(stat)) == pytest.approx(200 / os.sysconf("SC_CLK_TCK"))
    stat.write_text("intr 1 2 3\n")
    assert machine_busy_seconds(str(stat)) is None
    assert machine_busy_seconds(str(tmp_path / "missing")) is None
