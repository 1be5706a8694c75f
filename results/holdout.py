"""The sealed test split, for the report alone: validation against test for the baseline and the
front, and the night's selection optimism.

A night picks, among many runs, the ones that scored best on the validation split, so part of
their gain is luck of that split. The test split is scored by the harness for every run but read
only here, never by the keep rule or the proposer: the mean validation gain of the front over the
baseline minus its mean test gain is how much of the night's progress was selection.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from pathlib import Path

from gg_research.workspace_map import TEST_SCORES_FILE
from gg_research.results.record import Experiment


@dataclass(frozen=True)
class Holdout:
    id: str
    title: str
    val: dict[str, float]
    test: dict[str, float]
    images: int


def test_scores(workspace: Path, exp: Experiment, names: list[str]) -> tuple[dict[str, float], int] | None:
    """The mean test-split scores of an experiment's ok seeds, and the images scored; None if never scored."""
    found: list[dict[str, float]] = []
    images = 0
    for seed in exp.seeds:
        if not seed.ok or not seed.run_dir:
            continue
        try:
            raw = json.loads((Path(workspace) / seed.run_dir / TEST_SCORES_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(raw, dict) and all(isinstance(raw.get(n), (int, float)) for n in names):
            found.append({n: float(raw[n]) for n in names})
            images = int(raw.get("images", 0) or 0)
    if not found:
        return None
    return {n: statistics.fmean(f[n] for f in found) for n in names}, images


def holdout_rows(workspace: Path, exps: list[Experiment], ids: list[str], names: list[str]) -> list[Holdout]:
    """Validation against test for the experiments `ids` (the baseline and the front) that have both."""
    by_id = {e.id: e for e in exps}
    rows = []
    for exp_id in ids:
        exp = by_id.get(exp_id)
        if exp is None or not exp.has_metrics(names):
            continue
        scored = test_scores(workspace, exp, names)
        if scored is not None:
            rows.append(Holdout(exp.id, exp.title, {n: exp.metrics[n] for n in names}, scored[0], scored[1]))
    return rows


def selection_optimism(rows: list[Holdout], baseline_id: str | None, names: list[str]) -> dict[str, float] | None:
    """Per objective: mean validation gain over the baseline minus mean test gain, over the other rows."""
    base = next((r for r in rows if r.id == baseline_id), None)
    others = [r for r in rows if r.id != baseline_id]
    if base is None or not others:
        return None
    return {n: statistics.fmean(r.val[n] - base.val[n] for r in others)
            - statistics.fmean(r.test[n] - base.test[n] for r in others) for n in names}
