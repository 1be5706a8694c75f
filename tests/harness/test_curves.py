"""Training curves: the line format, the parent's bounded and thinned record, ctx.log's points, and
the curves.json a real run leaves (train.py under the harness, and a [run] command printing its own)."""

from __future__ import annotations

import io
import json
import math
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from gg_research.workspace_map import CURVES_FILE
from gg_research.harness.curves import MAX_POINTS, CurveRecorder, format_curve, parse_curve
from gg_research.harness.errors import TrainingDiverged
from gg_research.harness.runner import run_experiment
from tests.harness.standin import make_workspace


def test_a_curve_line_round_trips_and_malformed_lines_are_refused_whole() -> None:
    line = format_curve(12, 384, {"loss": 0.53125, "lr": 3e-3, "bad": float("nan")})
    assert line == "[curve] step 12 images 384 loss=0.53125 lr=0.003 bad=nan"
    p = parse_curve(line)
    assert p is not None and p.step == 12 and p.images == 384
    assert p.values["loss"] == 0.53125 and math.isnan(p.values["bad"])
    assert parse_curve("[curve] step 3 loss=-1e-3 x.y_z=inf").values == {"loss": -1e-3, "x.y_z": math.inf}
    for bad in ("[curve] step 3", "[curve] step x loss=1", "[curve] step 3 loss=1 loss=2", "[curve] step 3 loss=1e",
                "[curve] step 3 images loss=1", "[curve] step 3 1loss=2", "[curve] step 3 loss=0x10",
                "[curve] step 3 " + " ".join(f"k{i}=1" for i in range(17)), "[curve] step 3 loss=1 " + "x" * 1100,
                "[train] step 3 loss=1", "[curve] step 3 loss=1;rm"):
        assert parse_curve(bad) is None, bad


def test_the_parent_keeps_a_bounded_evenly_thinned_curve_and_always_its_last_point() -> None:
    rec = CurveRecorder()
    n = 5003
    for step in range(1, n + 1):
        assert rec.feed(f"[curve] step {step} images {step * 4} loss={1.0 / step:.6g}\n")
    assert not rec.feed("[train] step 1 elapsed 0.1s left 1.0s loss=1")
    assert rec.feed("[curve] this is not a point")  # a curve line all the same: kept out of the log, not recorded
    data = rec.to_json(since=0.0)
    steps = data["step"]
    assert data["points_seen"] == n and len(steps) == data["points_kept"] <= MAX_POINTS + 1
    assert len(steps) > MAX_POINTS // 2  # thinned to half at most, not to a handful
    assert steps[0] == 1 and steps[-1] == n
    gaps = {b - a for a, b in zip(steps[:-2], steps[1:-1])}
    assert len(gaps) == 1  # evenly spread by arrival
    assert data["images"][-1] == 4 * n and list(data["series"]) == ["loss"]
    assert all(b >= a for a, b in zip(data["seconds"], data["seconds"][1:]))


def test_series_beyond_the_limit_are_ignored_and_non_finite_values_are_stored_as_words() -> None:
    rec = CurveRecorder()
    rec.feed("[curve] step 1 " + " ".join(f"s{i}=1" for i in range(16)))
    rec.feed("[curve] step 2 late=1 s0=nan")
    data = rec.to_json(since=0.0)
    assert "late" not in data["series"] and len(data["series"]) == 16
    assert data["series"]["s0"] == [1.0, "nan"] and data["series"]["s1"] == [1.0, None]
    json.dumps(data, allow_nan=False)  # strict JSON: a tracker or a browser reads it


def _ctx(stream: io.StringIO, budget_s: float = 1e6):
    from gg_research.harness.context import TrainContext

    ctx = TrainContext(device=torch.device("cpu"), seed=0, image_size=8, train_dataset=[], budget_s=budget_s,
                       run_dir=Path("."), stream=stream)
    ctx.start_clock()
    return ctx


def test_ctx_log_prints_curve_points_the_last_on_flush_and_the_one_that_broke() -> None:
    out = io.StringIO()
    ctx = _ctx(out)  # a long budget: points are far apart in time, so only the first prints at once
    for step in range(1, 6):
        ctx.log(step, loss=torch.tensor(1.0 / step), lr=0.1, n_images=2)
    ctx.end_curve()
    points = [parse_curve(ln) for ln in out.getvalue().splitlines() if ln.startswith("[curve]")]
    assert [p.step for p in points] == [1, 5] and points[-1].images == 10 and points[-1].values["loss"] == 0.2
    with pytest.raises(TrainingDiverged, match="NaN loss at step 6"):
        ctx.log(6, loss=float("nan"))
    last = parse_curve(out.getvalue().splitlines()[-1])
    assert last.step == 6 and math.isnan(last.values["loss"])


@pytest.fixture(autouse=True)
def _few_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "2")


@pytest.mark.slow
def test_a_real_run_leaves_its_curves_in_the_run_folder_and_not_in_its_log(tmp_path: Path, dataset: Path) -> None:
    ws = make_workspace(tmp_path / "ws", dataset, budget_s=2.0)
    res = run_experiment(ws, tmp_path / "run", hard_limit_s=240)
    assert res.status == "ok", res.error
    data = json.loads((tmp_path / "run" / CURVES_FILE).read_text())
    assert {"loss", "align", "seg", "lr"} <= set(data["series"])
    n = data["points_kept"]
    assert n >= 1 and data["step"][0] == 1 and data["step"][-1] == res.metrics["num_steps"]
    assert all(len(col) == n for col in data["series"].values())
    # The parent's clock: within the training time it measured, never what the child claims.
    assert 0 <= data["seconds"][0] <= data["seconds"][-1] <= res.metrics["training_seconds"]
    assert "[curve]" not in res.log_path.read_text()


@pytest.mark.slow
def test_a_run_that_breaks_leaves_the_curve_up_to_the_nan(tmp_path: Path, dataset: Path) -> None:
    source = "def train(ctx):\n    ctx.log(1, loss=1.0)\n    ctx.log(2, loss=float('nan'))\n"
    ws = make_workspace(tmp_path / "ws", dataset, train_source=source, budget_s=1.0)
    res = run_experiment(ws, tmp_path / "run", hard_limit_s=240)
    assert res.status == "crash" and "NaN loss at step 2" in res.error
    data = json.loads((tmp_path / "run" / CURVES_FILE).read_text())
    assert data["step"] == [1, 2] and data["series"]["loss"] == [1.0, "nan"]


COMMAND = """
    import json, os, sys
    d = os.environ["GG_RUN_DIR"]
    for step in range(1, 20001):  # far more than is kept, and junk among it
        print(f"[curve] step {step} images {step * 8} loss={1 / step:.5g}")
        if step % 1000 == 0:
            print("[curve] step 1 loss=1 loss=2")
            print("[curve] step " + "9" * 5000)
    # a curves.json of its own never replaces the parent's
    json.dump({"step": [1], "series": {"loss": [0]}}, open(d + "/curves.json", "w"))
    json.dump({"pbqc": 0.5, "dice": 0.25}, open(d + "/last_run.json", "w"))
"""


@pytest.mark.slow
def test_a_run_command_prints_its_own_curve_and_the_parent_bounds_it(tmp_path: Path, dataset: Path) -> None:
    ws = make_workspace(tmp_path / "ws", dataset, train_source="", budget_s=5.0,
                        extra_run=f'command = "{sys.executable} own.py"')
    (ws / "own.py").write_text(textwrap.dedent(COMMAND))
    res = run_experiment(ws, tmp_path / "run", hard_limit_s=120)
    assert res.status == "ok", res.error
    data = json.loads((tmp_path / "run" / CURVES_FILE).read_text())
    assert data["points_seen"] == 20000 and data["points_kept"] <= MAX_POINTS + 1
    assert data["step"][-1] == 20000 and data["series"]["loss"][-1] == pytest.approx(5e-5)
    assert res.log_path.stat().st_size < 10_000  # the curve lines stayed out of run.log
