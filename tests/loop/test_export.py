"""A real (small) night exported to MLflow, TensorBoard and Optuna, read back through each library's
own reader; exporting twice adds nothing; a missing extra is a one-line error with the pip command."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from gg_research.config import load_config
from gg_research.loop.errors import ExportError
from gg_research.loop.export import export
from gg_research.results.report import build_analysis
from tests.loop.fakes import edit, git, make_workspace, records, run_scripted

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Baseline, two keeps that trade PBQC for Dice (a front of two), a crash and a discard; each run
    prints its loss curve in the harness's line format."""
    ws = make_workspace(tmp_path_factory.mktemp("export") / "ws")
    train = ws / "train.py"
    train.write_text(train.read_text().replace('CURVE = "none"', 'CURVE = "early"'))
    git(ws, "commit", "-qam", "curves")
    both = {"title": "QB up, QA down", "rationale": "a trade", "parent": "e0001", "edits": [
        {"path": "train.py", "search": "QB = 1.0", "replace": "QB = 2.0"},
        {"path": "train.py", "search": "QA = 1.0", "replace": "QA = 0.8"}],
        "citations": ["thesis:3"]}
    _, code, out = run_scripted(ws, [
        edit("QA up", "QA = 1.0", "QA = 2.0"),
        both,
        edit("crash", 'MODE = "ok"', 'MODE = "crash"'),
        edit("slower", 'CURVE = "early"', 'CURVE = "falling"'),
    ], tag="n1")
    assert code == 0, out
    assert [str(e.status) for e in records(ws)] == ["baseline", "keep", "keep", "crash", "discard"]
    return ws


def test_mlflow_holds_a_run_per_experiment_with_knobs_metrics_curves_tags_and_the_diff(night: Path) -> None:
    pytest.importorskip("mlflow", reason="pip install 'gg-research[mlflow]' (scripts/setup.sh installs it)")
    from mlflow import MlflowClient

    cfg = load_config(night / "gg-research.toml")
    done = export("mlflow", night, cfg)
    assert done.added == ["e0001", "e0002", "e0003", "e0004", "e0005"] and done.present == 0
    client = MlflowClient(tracking_uri=done.target)
    exp = client.get_experiment_by_name("gg-research/n1")
    runs = {r.data.tags["gg.experiment"]: r for r in client.search_runs([exp.experiment_id])}
    assert set(runs) == {"e0001", "e0002", "e0003", "e0004", "e0005"}
    keep = runs["e0002"]
    assert keep.data.params["QA"] == "2.0" and keep.data.params["QB"] == "1.0"  # the knobs at its commit
    assert keep.data.metrics["pbqc"] == pytest.approx(records(night)[1].metrics["pbqc"])
    assert keep.data.tags["gg.status"] == "keep" and keep.data.tags["mlflow.source.git.commit"] == records(night)[1].commit
    assert keep.info.status == "FINISHED" and runs["e0004"].info.status == "FAILED"
    assert runs["e0003"].data.tags["gg.parent"] == "e0001" and "thesis:3" in runs["e0003"].data.tags["gg.citations"]
    history = client.get_metric_history(keep.info.run_id, "curve.loss")
    assert [m.step for m in history] == list(range(1, 201))
    assert "plateaued at" in keep.data.tags["gg.curve"] and "still improving" in runs["e0005"].data.tags["gg.curve"]
    assert [a.path for a in client.list_artifacts(keep.info.run_id)] == ["patch.diff"]
    again = export("mlflow", night, cfg)
    assert again.added == [] and again.present == 5
    assert len(client.search_runs([exp.experiment_id])) == 5


def test_tensorboard_event_files_hold_each_runs_curves_and_final_metrics(night: Path) -> None:
    pytest.importorskip("tensorboard", reason="pip install 'gg-research[tensorboard]' (scripts/setup.sh installs it)")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cfg = load_config(night / "gg-research.toml")
    done = export("tensorboard", night, cfg, target=str(night / "tb"))
    assert len(done.added) == 5
    acc = EventAccumulator(str(night / "tb" / "n1" / "e0002"))
    acc.Reload()
    loss = acc.Scalars("curve/loss")
    assert [s.step for s in loss] == list(range(1, 201)) and loss[-1].value == pytest.approx(0.5, abs=1e-3)
    assert acc.Scalars("metrics/pbqc")[0].value == pytest.approx(records(night)[1].metrics["pbqc"], abs=1e-6)
    assert "curve/loss" not in EventAccumulator(str(night / "tb" / "n1" / "e0004")).Reload().Tags()["scalars"]
    assert export("tensorboard", night, cfg, target=str(night / "tb")).added == []


def test_the_optuna_study_s_best_trials_are_the_report_s_front(night: Path) -> None:
    import optuna

    cfg = load_config(night / "gg-research.toml")
    done = export("optuna", night, cfg)
    study = optuna.load_study(study_name="gg-research-n1", storage=done.target)
    assert study.metric_names == ["pbqc", "dice"]  # the dashboard's axes
    front = build_analysis(night, cfg, "n1").front
    assert sorted(front) == ["e0002", "e0003"]
    assert sorted(t.user_attrs["experiment"] for t in study.best_trials) == front
    states = {t.user_attrs["experiment"]: t.state.name for t in study.trials}
    assert states == {"e0001": "COMPLETE", "e0002": "COMPLETE", "e0003": "COMPLETE", "e0004": "FAIL", "e0005": "PRUNED"}
    by_id = {t.user_attrs["experiment"]: t for t in study.trials}
    assert by_id["e0003"].params == {"QA": 0.8, "QB": 2.0, "WIDTH": 8, "ACT": "relu", "LR": 1e-3}
    assert export("optuna", night, cfg).added == [] and len(optuna.load_study(
        study_name="gg-research-n1", storage=done.target).trials) == 5


def test_a_missing_extra_names_the_pip_command(night: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)  # what an environment without the package sees
    with pytest.raises(ExportError, match=r"the mlflow package is not installed; pip install 'gg-research\[mlflow\]'"):
        export("mlflow", night, load_config(night / "gg-research.toml"))


def test_the_export_command_says_what_it_added_and_how_to_look(night: Path) -> None:
    pytest.importorskip("tensorboard", reason="pip install 'gg-research[tensorboard]' (scripts/setup.sh installs it)")
    cmd = [sys.executable, "-m", "gg_research", "export", "tensorboard", "--to", str(night / "tb-cli")]
    first = subprocess.run(cmd, cwd=night, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [f"tensorboard: 5 experiment(s) added, 0 already there: {night / 'tb-cli'}",
                                         f"view it: tensorboard --logdir {night / 'tb-cli'}"]
    second = subprocess.run(cmd, cwd=night, capture_output=True, text=True, timeout=120)
    assert "0 experiment(s) added, 5 already there" in second.stdout
    bad = subprocess.run([sys.executable, "-m", "gg_research", "export", "wandb"], cwd=night, capture_output=True,
                         text=True, timeout=60)
    assert bad.returncode == 2 and "invalid choice: 'wandb'" in bad.stderr


def test_the_loop_logs_to_the_configured_trackers_as_it_goes_and_a_missing_one_never_stops_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("tensorboard", reason="pip install 'gg-research[tensorboard]' (scripts/setup.sh installs it)")
    ws = make_workspace(tmp_path / "ws")
    toml = ws / "gg-research.toml"
    toml.write_text(toml.read_text() + '\n[export]\nto = ["tensorboard", "mlflow"]\n')
    git(ws, "commit", "-qam", "export as the night goes")
    monkeypatch.setitem(sys.modules, "mlflow", None)
    _, code, out = run_scripted(ws, [edit("QA up", "QA = 1.0", "QA = 2.0")], tag="live")
    assert code == 0, out
    assert sorted(p.name for p in (ws / "results" / "tensorboard" / "live").iterdir()) == ["e0001", "e0002"]
    said = [ln for ln in out.splitlines() if "not exported to mlflow" in ln]
    assert len(said) == 1 and "pip install 'gg-research[mlflow]'" in said[0]  # said once, not per experiment


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (scripts/setup.sh installs it)")
def test_mlflow_ui_shows_the_night_s_runs_in_a_real_browser(night: Path, tmp_path: Path) -> None:
    """`mlflow ui` on 127.0.0.1 over the exported store; its runs page, rendered by Chromium, lists
    every experiment. The screenshot is kept under artifacts/ for a person to look at."""
    pytest.importorskip("mlflow", reason="pip install 'gg-research[mlflow]' (scripts/setup.sh installs it)")
    import socket
    import time
    import urllib.request

    from mlflow import MlflowClient

    cfg = load_config(night / "gg-research.toml")
    done = export("mlflow", night, cfg)
    exp_id = MlflowClient(tracking_uri=done.target).get_experiment_by_name("gg-research/n1").experiment_id
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", done.target,
                               "--host", "127.0.0.1", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 150
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, "mlflow ui did not come up"
            time.sleep(0.5)
        url = f"http://127.0.0.1:{port}/#/experiments/{exp_id}/runs"
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-extensions", "--virtual-time-budget=20000"]
        dom = subprocess.run([CHROMIUM, *flags, f"--user-data-dir={tmp_path / 'p1'}", "--dump-dom", url],
                             capture_output=True, text=True, timeout=120)
        for name in ("e0001 baseline", "e0002 QA up", "e0003 QB up, QA down", "e0004 crash", "e0005 slower"):
            assert name in dom.stdout, name
        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / "mlflow-runs.png"
        shot.unlink(missing_ok=True)
        subprocess.run([CHROMIUM, *flags, f"--user-data-dir={tmp_path / 'p2'}", "--hide-scrollbars",
                        "--window-size=1400,800", f"--screenshot={shot}", url], capture_output=True, timeout=120)
        assert shot.stat().st_size > 20_000
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def test_an_unwritable_target_is_one_line_naming_it(night: Path, tmp_path: Path) -> None:
    pytest.importorskip("tensorboard", reason="pip install 'gg-research[tensorboard]' (scripts/setup.sh installs it)")
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(ExportError, match=f"export tensorboard: cannot write {blocker}/tb.*: Not a directory"):
        export("tensorboard", night, load_config(night / "gg-research.toml"), target=str(blocker / "tb"))
