"""Budgets under an artificial load (busy processes on every core), on real sandboxed runs.

An images budget trains the same steps whatever the load; a time-budget run under load is
flagged by the one definition the loop and the report use (results.throughput).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from gg_research.harness.load import usable_cpus
from gg_research.harness.runner import run_experiment
from gg_research.results.throughput import load_skew
from tests.harness.standin import TINY, make_workspace

IMAGES = 40 * int(TINY["BATCH_SIZE"])


@contextmanager
def busy_machine() -> Iterator[None]:
    """Two spinning processes per usable CPU: the run gets a third of the CPU or less.

    Each in a session of its own, as unrelated programs are: Linux shares the CPU fairly between
    sessions (autogroups) first, so spinners in the test's session would take no more than half.
    """
    spin = [subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True)
            for _ in range(2 * usable_cpus())]
    try:
        yield
    finally:
        for p in spin:
            p.kill()
            p.wait()


def _run(ws: Path, run_dir: Path) -> dict:
    res = run_experiment(ws, run_dir, hard_limit_s=900)
    assert res.status == "ok", (res.error, res.log_path.read_text()[-2000:])
    return res.metrics


@pytest.mark.slow
def test_an_images_budget_gives_equal_work_under_load_and_the_slow_run_is_flagged(
    tmp_path: Path, dataset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One torch thread: with two, beside busy processes, each step waits for both threads to be
    # scheduled and a 40-step run took minutes (the load is the point; that stall is not).
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    # The time cap only guards against a hang here: the images budget must end both runs.
    ws = make_workspace(tmp_path / "ws", dataset, budget_s=600.0,
                        extra_run=f'budget = "images"\nbudget_images = {IMAGES}')
    idle = _run(ws, tmp_path / "idle")
    with busy_machine():
        loaded = _run(ws, tmp_path / "loaded")
    assert idle["num_images"] == loaded["num_images"] == IMAGES
    assert idle["num_steps"] == loaded["num_steps"] == IMAGES // int(TINY["BATCH_SIZE"])
    # Equal work, same seed: the same model, whatever the load.
    assert loaded["pbqc"] == pytest.approx(idle["pbqc"], abs=1e-4) and loaded["dice"] == pytest.approx(idle["dice"], abs=1e-4)
    # The parent saw the busy machine from outside (others' share of the CPUs), whatever the run reported.
    assert loaded["machine_busy"] > idle["machine_busy"]
    assert load_skew(loaded, idle, 0.3) is not None, (idle, loaded)
    assert load_skew(idle, idle, 0.3) is None

    timed = make_workspace(tmp_path / "timed", dataset, budget_s=3.0)
    with busy_machine():
        slow = _run(timed, tmp_path / "timed-loaded")
    assert load_skew(slow, idle, 0.3) is not None, (idle, slow)
    assert slow["num_images"] < IMAGES * slow["training_seconds"] / idle["training_seconds"]
