"""The prestarted harness child: start-up off the critical path, same results contract."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from gg_research.commands.overrides import with_flags
from gg_research.config import load_config
from gg_research.harness.runner import PrestartingRunner, run_experiment
from gg_research.harness.warm import HarnessChild
from tests.harness.procs import all_gone
from tests.harness.standin import make_workspace
from tests.harness.test_runner import HUNG


def _child(ws: Path, config=None) -> tuple[HarnessChild, Path]:
    from gg_research.harness.data import dataset_root
    from gg_research.harness.scorer import data_state, trainer_view

    config = config or load_config(ws / "gg-research.toml")
    root = dataset_root(ws, config)
    view = trainer_view(ws, config, root, data_state(root))
    return HarnessChild(ws, config, view.dir, root), view.dir


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
        assert waiting is not None and waiting.child.alive()
        shorter = with_flags(load_config(ws / "gg-research.toml"), budget_s=1.0)
        second = runner(ws, tmp_path / "r2", config=shorter, seed=7, hard_limit_s=240)
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
    assert all_gone(str(idle.out))
    assert not list((ws / ".gg" / "runs").iterdir()), "no output folder of an idle child is left"


@pytest.mark.slow
def test_hung_run_on_a_prestarted_child_is_stopped_with_its_tree(tmp_path: Path, dataset: Path) -> None:
    ws = make_workspace(tmp_path / "ws", dataset, train_source=textwrap.dedent(HUNG), budget_s=1.0)
    warm, _ = _child(ws)
    assert warm.child.wait_ready(120), "the child loads its data and waits"
    res = run_experiment(ws, tmp_path / "run", warm=warm, hard_limit_s=120)
    assert res.status == "invalid" and "trained past its budget" in res.error
    assert all_gone(str(ws)) and all_gone("gg-hung-grandchild")


def test_an_unused_child_exits_when_its_runner_closes_stdin(tmp_path: Path, dataset: Path) -> None:
    ws = make_workspace(tmp_path / "ws", dataset)
    warm, _ = _child(ws)
    proc = warm.child.proc
    assert proc.stdin is not None
    proc.stdin.close()  # as when a killed loop's end of the pipe goes away
    assert proc.wait(timeout=120) == 0
    warm.close()


def test_a_child_for_another_config_is_not_used(tmp_path: Path, dataset: Path) -> None:
    ws = make_workspace(tmp_path / "ws", dataset)
    config = load_config(ws / "gg-research.toml")
    warm, view = _child(ws, config)
    try:
        other = config.model_copy(deep=True)
        other.run.budget_s = 99.0
        other.run.seed = 5
        assert warm.usable_for(other, view), "budget and seed travel with the run"
        other.data.image_size = 32
        assert not warm.usable_for(other, view)
    finally:
        warm.close()
    assert all_gone(str(warm.out))
