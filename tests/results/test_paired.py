"""The paired per-image test (results.paired) on constructed counts, and the report's holdout table."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gg_research.config import load_config
from gg_research.results.holdout import selection_optimism, Holdout
from gg_research.results.paired import compare_runs, micro, paired_interval
from gg_research.results.report import write_report
from tests.results.night import night_records, write_workspace


def _counts(tp, fp, fn) -> np.ndarray:
    return np.stack([np.asarray(tp, float), np.asarray(fp, float), np.asarray(fn, float)], axis=1)


def test_micro_dice_sums_before_dividing():
    c = _counts([10, 0], [0, 5], [0, 5])
    assert micro(c) == pytest.approx(20 / 30)
    assert micro(_counts([0], [0], [0])) == 1.0  # nothing to find and nothing found


def test_a_win_on_every_image_is_sure():
    ref = _counts(np.full(20, 50), np.full(20, 20), np.full(20, 20))
    cand = _counts(np.full(20, 60), np.full(20, 15), np.full(20, 10))
    iv = paired_interval(cand, ref, "dice")
    assert iv.diff == pytest.approx(micro(cand) - micro(ref)) and iv.low > 0 and iv.sure_better
    assert iv.text("Dice").startswith(f"ΔDice {iv.diff:+.4f} [")


def test_the_same_run_is_no_difference_and_a_mixed_change_is_not_sure():
    rng = np.random.default_rng(0)
    ref = _counts(rng.integers(20, 80, 30), rng.integers(0, 30, 30), rng.integers(0, 30, 30))
    same = paired_interval(ref, ref)
    assert (same.diff, same.low, same.high) == (0.0, 0.0, 0.0)
    # Better on half the images, worse on the other half: no sure direction.
    cand = ref.copy()
    cand[::2, 0] += 15
    cand[1::2, 0] = np.maximum(cand[1::2, 0] - 15, 0)
    mixed = paired_interval(cand, ref)
    assert mixed.low < 0 < mixed.high and not mixed.sure_better and not mixed.sure_worse


def test_counts_that_cannot_be_paired_are_refused():
    with pytest.raises(ValueError, match="cannot be paired"):
        paired_interval(_counts([1, 2], [0, 0], [0, 0]), _counts([1], [0], [0]))


def _write_run(folder: Path, ids: list[str], dice: np.ndarray) -> Path:
    folder.mkdir(parents=True)
    np.savez_compressed(folder / "per_image.npz", ids=np.array(ids), dice_counts=dice, pbqc_counts=dice)
    return folder


def test_compare_runs_reads_the_run_folders_and_needs_the_same_images(tmp_path: Path):
    ref = _counts(np.full(8, 50), np.full(8, 20), np.full(8, 20))
    better = _counts(np.full(8, 70), np.full(8, 10), np.full(8, 10))
    a = _write_run(tmp_path / "a", [f"s{i}" for i in range(8)], better)
    b = _write_run(tmp_path / "b", [f"s{i}" for i in range(8)], ref)
    other = _write_run(tmp_path / "c", [f"t{i}" for i in range(8)], ref)
    found = compare_runs(a, b, ["pbqc", "dice"])
    assert set(found) == {"pbqc", "dice"} and found["dice"].sure_better and found["dice"].images == 8
    assert compare_runs(a, other, ["dice"]) == {}  # different images: nothing to pair
    assert compare_runs(a, tmp_path / "missing", ["dice"]) == {}


def test_selection_optimism_is_validation_gain_minus_test_gain():
    base = Holdout("e0001", "baseline", {"dice": 0.50}, {"dice": 0.48}, 16)
    k1 = Holdout("e0002", "a", {"dice": 0.60}, {"dice": 0.52}, 16)
    k2 = Holdout("e0005", "b", {"dice": 0.58}, {"dice": 0.54}, 16)
    assert selection_optimism([base, k1, k2], "e0001", ["dice"])["dice"] == pytest.approx(0.09 - 0.05)
    assert selection_optimism([base], "e0001", ["dice"]) is None


def test_the_report_shows_validation_against_test_and_the_paired_interval(tmp_path: Path):
    counts = {"e0001": (50, 20, 20), "e0002": (70, 10, 10), "e0005": (72, 12, 8)}
    tests = {"e0001": (0.58, 0.49), "e0002": (0.62, 0.51), "e0005": (0.61, 0.55)}
    records = night_records()
    for rec in records:
        if rec["id"] in counts:
            seeds = rec.get("seeds") or [{"seed": 0, "status": "ok", "metrics": rec["metrics"]}]
            rec["seeds"] = [{**seed, "run_dir": f"results/runs/{rec['id']}"} for seed in seeds]
    ws = write_workspace(tmp_path / "ws", records)
    ids = [f"s{i}" for i in range(12)]
    for exp_id, (tp, fp, fn) in counts.items():
        run = ws / "results" / "runs" / exp_id
        c = _counts(np.full(12, tp), np.full(12, fp), np.full(12, fn))
        np.savez_compressed(run / "per_image.npz", ids=np.array(ids), dice_counts=c, pbqc_counts=c)
        pbqc, dice = tests[exp_id]
        (run / "test_scores.json").write_text(json.dumps({"pbqc": pbqc, "dice": dice, "images": 12}))
    write_report(ws, load_config(ws / "gg-research.toml"), formats=("md", "html"))
    md = (ws / "results" / "report.md").read_text()
    assert "## Validation against the sealed test split" in md
    assert "| e0001 | Baseline | 0.6033 | 0.5100 | 0.5800 | 0.4900 | 12 |" in md
    assert "| e0002 | Joint training from step 0 | 0.6600 | 0.5500 | 0.6200 | 0.5100 | 12 |" in md
    # The front (e0002, e0005) gained 0.0467 PBQC and 0.065 Dice on validation, 0.035 and 0.04 on test.
    assert "Selection optimism (the front's mean validation gain over the baseline minus its mean test gain): " \
           "PBQC +0.0117, Dice +0.0250." in md
    d = micro(_counts([70], [10], [10])) - micro(_counts([50], [20], [20]))
    assert f"**Against its parent, on the same images.** vs e0001: ΔPBQC {d:+.4f} [{d:+.4f}, {d:+.4f}] (95%, 12 images)" in md
    html = (ws / "results" / "report.html").read_text()
    assert 'id="holdout"' in html and "PBQC +0.0117, Dice +0.0250." in html
    # report.json carries the same: the test-split rows, the optimism and the paired intervals.
    data = json.loads(write_report(ws, load_config(ws / "gg-research.toml"), formats=("json",)).read_text())
    assert {r["id"]: r["test"] for r in data["holdout"]}["e0002"] == {"pbqc": 0.62, "dice": 0.51}
    assert data["selection_optimism"] == pytest.approx({"pbqc": 0.0117, "dice": 0.025}, abs=1e-4)
    assert data["paired"]["e0002"]["pbqc"]["diff"] == pytest.approx(d) and data["paired"]["e0002"]["pbqc"]["images"] == 12
