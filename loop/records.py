"""Building the ledger's records from what the loop knows: one place, one shape (results.ledger)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from gg_research.config import ObjectiveConfig
from gg_research.workspace_map import WEIGHTS_FILE
from gg_research.harness.runner import RunResult
from gg_research.loop.hypothesis import Hypothesis
from gg_research.loop.runner import seed_status
from gg_research.results.ledger import Experiment, SeedRun
from gg_research.results.lifecycle import SeedStatus
from gg_research.results.pareto import run_collapses, seed_reference
from gg_research.results.record import Lesson

# Harness figures that are settings or identities, not measurements of the run.
NOT_AUX = ("seed", "budget_s")


def rel(ws: Path, path: Path | str) -> str:
    """A path as the ledger stores it: relative to the workspace where it lies inside it."""
    try:
        return str(Path(path).resolve().relative_to(ws))
    except ValueError:
        return str(path)


def seed_record(res: RunResult, seed: int, ws: Path, objectives: Sequence[str]) -> SeedRun:
    """The ledger's record of one seed's run: the objectives in `metrics`, other figures in `aux`;
    an ok run with a NaN or missing objective is recorded as a crash."""
    # NaN/inf are left out: the ledger stays strict JSON and the status says crash.
    numbers = {k: float(v) for k, v in res.metrics.items() if math.isfinite(v)}
    status = SeedStatus.CRASH if non_finite(res, objectives) else seed_status(res)
    return SeedRun(
        seed=seed, status=status,
        metrics={k: v for k, v in numbers.items() if k in objectives},
        aux={k: v for k, v in numbers.items() if k not in objectives and k not in NOT_AUX},
        run_dir=rel(ws, Path(res.run_dir)), error=res.error or "",
        wall_seconds=round(float(res.wall_seconds or 0.0), 3),
    )


def drop_weights(ws: Path, exp: Experiment) -> None:
    """Delete the trained weights of a run that was not kept (only the baseline's and the kept
    runs' stay: the models worth using in the morning)."""
    for seed in exp.seeds:
        if seed.run_dir:
            (ws / seed.run_dir / WEIGHTS_FILE).unlink(missing_ok=True)


def mean_metrics(values: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """The mean of each key over the dicts that have it."""
    keys = {k for m in values for k in m}
    return {k: statistics.fmean([m[k] for m in values if k in m]) for k in sorted(keys)}


def set_means(exp: Experiment) -> None:
    """The experiment's metrics and aux: the means over its ok seeds."""
    ok = [s for s in exp.seeds if s.ok]
    exp.metrics = mean_metrics([s.metrics for s in ok])
    exp.aux = mean_metrics([s.aux for s in ok])


def mark_collapses(seeds: Sequence[SeedRun], objectives: Sequence[ObjectiveConfig],
                   reference: Mapping[str, float] | None = None) -> None:
    """Record on each ok seed the objectives it collapsed on (broke a floor), against `reference`
    (the baseline's metrics); without one, against the seeds' own median (the baseline's seeds)."""
    ok = [s for s in seeds if s.ok]
    if reference is None:
        reference = seed_reference([s.metrics for s in ok])
    for s in ok:
        s.collapse = run_collapses(s.metrics, objectives, reference)


def non_finite(res: RunResult, objectives: Sequence[str]) -> str:
    """The first objective an ok run reported as NaN, infinite or not at all ('' when all are finite)."""
    if res.status != "ok":
        return ""
    for name in objectives:
        v = (res.metrics or {}).get(name)
        if not isinstance(v, (int, float)) or not math.isfinite(v):
            return name
    return ""


def frozen_of(res: RunResult) -> dict[str, Any] | None:
    """The frozen-input fingerprint the harness measured the run against."""
    found = (res.summary or {}).get("frozen")
    return found if isinstance(found, dict) else None  # a command's printed "frozen: x" is text, not a fingerprint


def phase_times(res: RunResult) -> dict[str, float]:
    m = res.metrics or {}
    out = {"wall": float(res.wall_seconds or 0.0)}
    for k in ("training_seconds", "eval_seconds", "total_seconds"):
        if isinstance(m.get(k), (int, float)) and math.isfinite(m[k]):
            out[k] = float(m[k])
    return out


def citation(p: Any) -> dict[str, Any]:
    """A retrieved passage (or an already resolved citation) as the ledger records it."""
    if isinstance(p, dict):
        return p
    c = dict(p.citation())
    for k in ("chunk_id", "source", "page", "page_end", "section", "text", "score"):
        if k not in c and hasattr(p, k):
            c[k] = getattr(p, k)
    return c


def baseline_record(exp_id: str, tag: str, commit: str, *, content_hash: str, log: str,
                    frozen: dict[str, str] | None) -> Experiment:
    return Experiment(id=exp_id, tag=tag, parent=None, parent_commit=commit, commit=commit, title="baseline",
                      hypothesis={"title": "baseline", "edits": []}, proposer="baseline",
                      content_hash=content_hash, log=log, frozen=frozen)


def hypothesis_record(exp_id: str, tag: str, hyp: Hypothesis, parent: Experiment, *, proposer: str,
                      citations: list[dict[str, Any]], passages: list[Any], commit: str = "",
                      content_hash: str = "", diff: str = "", log: str = "") -> Experiment:
    """An experiment of a proposed hypothesis (refused ones too: they have no commit)."""
    hyp_json = hyp.to_record()
    hyp_json["citations"] = citations
    return Experiment(
        id=exp_id, tag=tag, parent=parent.id, parent_commit=parent.commit, commit=commit, title=hyp.title,
        hypothesis=hyp_json,
        passages=[citation(p) for p in passages] + list(hyp.meta.passages),
        proposer=hyp.meta.proposer or proposer,
        proposer_info=hyp.meta.proposer_info(),
        content_hash=content_hash, diff=diff, log=log,
        lesson=Lesson(hyp.lesson.strip(), hyp.meta.lesson_about) if hyp.lesson.strip() else None,
        usage=hyp.meta.usage,
    )
