"""The prestarted harness child: start-up off the critical path, same results contract."""

from __future__ import annotations

import json
import textwrap
import time
from pathlib import Path

import pytest

from gg_research.config import load_config
from gg_research.harness.runner import PrestartingRunner, WarmChild, run_experiment
from tests.harness.standin import make_workspace
from tests.harness.test_runner import HUNG, _gone, _live_group_members


@pytest.fixture(autouse=True)
def _few_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")


@pytest.mark.slow
def test_second_run_uses_the_child_started_during_the_first(tmp_path: Path, dataset: Path) -> None:
    ws = make_workspace(tmp_path / "ws", dataset, budget_s=1.5)
    runner = PrestartingRunner()
    try:
        first = runner(ws, tmp_path / "r1", seed=0, hard_limit_s=240)
        assert first.status == "ok", first.error
        assert first.summary["startup"] == "cold"
        # The next child was started while the first trained and is waiting for its run.
        waiting = runner._warm
        assert waiting is not None and waiting.proc.poll() is None
        second = runner(ws, tmp_path / "r2", seed=7, budget_s=1.0, hard_limit_s=240)
        assert second.status == "ok", second.error
        assert second.summary["startup"] == "prestarted"
        assert second.summary["seed"] == 7 and second.summary["budget_s"] == 1.0
        assert second.summary["config"]["run"]["seed"] == 7
        # Its output before the go (the ready line) lands in the run's own log.
        log = (tmp_path / "r2" / "run.log").read_text()
        assert log.index("[harness] ready") < log.index("[harness] training")
        assert json.loads((tmp_path / "r2" / "last_run.json").read_text())["pbqc"] == second.metrics["pbqc"]
        idle = runner._warm
        assert idle is not None
    finally:
        runner.close()
    assert _gone(idle.proc.pid)
    assert not list((ws / ".gg" / "prestart").glob("*.json")), "no config file of an idle child is left"


@pytest.mark.slow
def test_hung_run_on_a_prestarted_child_is_killed_at_the_hard_limit(tmp_path: Path, dataset: Path) -> None:
    ws = make_workspace(tmp_path / "ws", dataset, train_source=textwrap.dedent(HUNG), budget_s=1.0)
    warm = WarmChild(ws, load_config(ws / "gg-research.toml"))
    assert warm.wait_ready(120), "the child loads its data and waits"
    res = run_experiment(ws, tmp_path / "run", warm=warm, hard_limit_s=4)
    assert res.status == "timeout"
    pids = [int(p) for p in (tmp_path / "run" / "pids").read_text().split()]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not all(_gone(p) for p in pids):
        time.sleep(0.1)
    assert all(_gone(p) for p in pids)
    assert _live_group_members(warm.proc.pid) == []


def test_an_unused_child_exits_when_its_runner_closes_stdin(tmp_path: Path, dataset: Path) -> None:
    ws = make_workspace(tmp_path / "ws", dataset)
    warm = WarmChild(ws, load_config(ws / "gg-research.toml"))
    assert warm.proc.stdin is not None
    warm.proc.stdin.close()  # as when a killed loop's end of the pipe goes away
    assert warm.proc.wait(timeout=120) == 0


def test_a_child_for_another_config_is_not_used(tmp_path: Path, dataset: Path) -> None:
    ws = make_workspace(tmp_path / "ws", dataset)
    config = load_config(ws / "gg-research.toml")
    warm = WarmChild(ws, config)
    try:
        other = config.model_copy(deep=True)
        other.run.budget_s = 99.0
        other.run.seed = 5
        assert warm.usable_for(other), "budget and seed travel with the run"
        other.data.image_size = 32
        assert not warm.usable_for(other)
    finally:
        warm.close()
    assert _gone(warm.proc.pid)
