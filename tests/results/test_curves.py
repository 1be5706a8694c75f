"""The one-line reading of a training curve, on curves.json files written by the harness's own recorder."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest

from gg_research.workspace_map import CURVES_FILE
from gg_research.harness.curves import CurvePoint, CurveRecorder, save
from gg_research.results.curves import experiment_curve, load_curve, read_curve
from gg_research.results.record import Experiment, SeedRun, Status


def write_curve(run_dir: Path, values, name: str = "loss", seconds: float = 10.0, extra=None) -> Path:
    """A curves.json as the parent writes it: one point per value, evenly spread over `seconds`."""
    rec = CurveRecorder()
    n = len(values)
    for i, v in enumerate(values):
        vals = {name: v, "lr": 0.01, **({k: f(i) for k, f in (extra or {}).items()})}
        rec.add(CurvePoint(i + 1, (i + 1) * 8, vals), at=100.0 + seconds * i / max(n - 1, 1))
    run_dir.mkdir(parents=True, exist_ok=True)
    save(rec, run_dir / CURVES_FILE, since=100.0)
    return run_dir / CURVES_FILE


def _read(tmp_path: Path, values, **kw):
    return read_curve(load_curve(write_curve(tmp_path / "run", values, **kw)))


def test_a_loss_still_falling_at_the_end_is_budget_bound(tmp_path: Path) -> None:
    r = _read(tmp_path, [math.exp(-i / 200) for i in range(200)])
    assert r.kind == "improving" and r.budget_bound
    assert r.slope == pytest.approx(-0.1, abs=0.02)  # exp(-x): a tenth of the run takes a tenth off
    assert r.text.startswith("loss 1 → 0.37") and "still improving at the end" in r.text
    assert "-10.0% per tenth of the run" in r.text or "-9." in r.text


def test_a_loss_that_flattened_early_plateaued_where_it_did(tmp_path: Path) -> None:
    r = _read(tmp_path, [0.1 + math.exp(-i / 10) for i in range(200)])
    assert r.kind == "plateau" and not r.budget_bound
    assert 0.08 <= r.at <= 0.15 and "plateaued at 1" in r.text
    assert abs(r.slope) < 0.01


def test_an_exploding_loss_diverged_at_its_step_and_nan_is_named_with_its_step(tmp_path: Path) -> None:
    rng = random.Random(0)
    values = [max(1.0 - i / 300, 0.3) + rng.uniform(-0.02, 0.02) for i in range(300)] + [5.0 + i for i in range(200)]
    r = _read(tmp_path, values)
    assert r.kind == "diverged" and 290 <= r.step <= 310, r
    assert r.text.startswith(f"loss diverged at step {r.step}")
    nan = _read(tmp_path, [1.0, 0.9, 0.8, float("nan")])
    assert nan.kind == "nan" and nan.step == 4 and nan.text == "loss NaN at step 4"


def test_a_flat_noisy_loss_never_improved_and_few_points_are_not_read(tmp_path: Path) -> None:
    rng = random.Random(1)
    r = _read(tmp_path, [0.7 + rng.uniform(-0.03, 0.03) for _ in range(100)])
    assert r.kind == "flat" and "never improved" in r.text
    short = _read(tmp_path, [1.0, 0.5])
    assert short.kind == "short" and short.text == "loss 1 → 0.5 (too few points to read)"


def test_the_reading_is_of_the_loss_or_the_first_loss_like_series(tmp_path: Path) -> None:
    curve = load_curve(write_curve(tmp_path / "run", [1.0] * 10, name="seg_loss"))
    assert curve.primary() == "seg_loss"  # never the learning rate
    assert read_curve(curve, "missing") is None


def test_an_experiment_reads_its_first_ok_seed_and_bad_files_are_no_curve(tmp_path: Path) -> None:
    write_curve(tmp_path / "results/runs/e1-s0", [1.0, float("nan")])
    write_curve(tmp_path / "results/runs/e1-s1", [1.0, 0.5, 0.25])
    exp = Experiment("e1", status=Status.KEEP, seeds=[SeedRun(0, "crash", run_dir="results/runs/e1-s0"),
                                                      SeedRun(1, "ok", run_dir="results/runs/e1-s1")])
    assert experiment_curve(tmp_path, exp).series["loss"] == [1.0, 0.5, 0.25]
    bad = tmp_path / "bad.json"
    for text in ("[]", "{", '{"step": [1, 2], "seconds": [0], "series": {}}', "x" * (5 << 20)):
        bad.write_text(text)
        assert load_curve(bad) is None
    bad.unlink()
    bad.symlink_to(tmp_path / "results/runs/e1-s1" / CURVES_FILE)
    assert load_curve(bad) is None  # never followed
