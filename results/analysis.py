"""What the report says, computed once: front, ranks, hypervolume, bests, near-misses, pace.

The HTML, Markdown, JSON and the plots all render one `Analysis`, so they cannot disagree.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from gg_research.config import Config, ObjectiveConfig
from gg_research.results.curves import Curve, experiment_curve, read_curve
from gg_research.results.journal import JournalEntry, Plateau, journal, memory_line, night_cost, plateaus
from gg_research.results.ledger import Experiment, Ledger, Status
from gg_research.results.lifecycle import STATUS_ORDER
from gg_research.results.holdout import Holdout, holdout_rows, selection_optimism
from gg_research.results.paired import Interval, compare_runs
from gg_research.results.progress import ProgressPoint, bests, plain, progress, reference_point
from gg_research.results.record import Usage
from gg_research.results.throughput import THROUGHPUT, load_skew
from gg_research.results.throughput import reference as throughput_reference
from gg_research.results.pareto import (Direction, baseline_collapses, epsilons, hypervolume, near_misses, nondominated_ranks,
                                       rank_against, run_collapses, sigmas)

MAX_NEAR_MISSES = 5


@dataclass
class Row:
    exp: Experiment
    rank: int | None  # front rank among kept runs; for a discard, the layer it would sit in
    on_front: bool = False
    near_miss: bool = False
    load: str | None = None  # why its figures came from a busy machine (results.throughput), if they did
    collapsed: list[str] = field(default_factory=list)  # objectives on which it (or one of its seeds) broke a floor

    @property
    def throughput(self) -> float | None:
        return self.exp.aux.get(THROUGHPUT)


@dataclass
class Analysis:
    workspace: Path
    tag: str | None
    objectives: list[ObjectiveConfig]
    ledger: Ledger
    rows: list[Row]
    front: list[str]
    near_misses: list[str]
    reference: dict[str, float] | None
    reference_source: str  # "collapse floors", "baseline", "config" (or several joined by "and"), "worst measured", "none"
    baseline_id: str | None
    hypervolume: float | None
    baseline_hypervolume: float | None
    best: dict[str, dict[str, Any] | None]
    best_any: dict[str, dict[str, Any] | None]
    epsilon: dict[str, float]
    progress: list[ProgressPoint]
    started: datetime | None
    ended: datetime | None
    notes: list[str] = field(default_factory=list)
    journal: list[JournalEntry] = field(default_factory=list)  # what each result taught (results.journal)
    plateaus: list[Plateau] = field(default_factory=list)  # stretches without a keep of at least plateau_after
    cost: Usage = field(default_factory=Usage)  # the proposer's tokens and estimated cost
    holdout: list[Holdout] = field(default_factory=list)  # validation against the sealed test split
    optimism: dict[str, float] | None = None  # mean validation gain minus mean test gain of the front
    intervals: dict[str, dict[str, Interval]] = field(default_factory=dict)  # kept run -> paired Δ vs its parent
    # The baselines' own seeds that collapsed, (baseline id, seed, objectives), of how many seeds:
    # a target where one seed in a few finds nothing is bistable, and one seed's draw can decide a keep.
    baseline_collapses: list[tuple[str, int, list[str]]] = field(default_factory=list)
    baseline_seed_count: int = 0
    # Training curves of the front members and their parents (results.curves), by experiment id,
    # and each front member's parent: the report draws each member's curves against its parent's.
    curves: dict[str, Curve] = field(default_factory=dict)
    curve_parents: dict[str, str | None] = field(default_factory=dict)

    def curve_reading(self, exp_id: str) -> str:
        """The one-line reading of an experiment's curve, "" when it left none."""
        curve = self.curves.get(exp_id)
        reading = read_curve(curve) if curve is not None else None
        return reading.text if reading is not None else ""
    keep_test: str = "margin"  # [keep] test the night judged with: what a bistable baseline calls for

    def journal_lines(self) -> list[tuple[str, str, str]]:
        """(the result, as the prompt's memory line, what it taught, who said so) for each lesson."""
        out = []
        for j in self.journal:
            subject = memory_line(j.subject, self.names)[2:] if j.subject else "(the result it reads is not in this ledger)"
            out.append((subject, j.lesson.text, f"stated with {j.stated_by.id}'s proposal"))
        return out

    def plateau_lines(self) -> list[str]:
        return [f"{p.length} experiments without a keep: {p.ids[0]}..{p.ids[-1]}"
                + (f", ended by {p.ended_by}" if p.ended_by else ", still on at the end of the ledger") for p in self.plateaus]

    @property
    def experiments(self) -> list[Experiment]:
        return self.ledger.experiments

    @property
    def names(self) -> list[str]:
        return [o.name for o in self.objectives]

    @property
    def directions(self) -> list[Direction]:
        return [o.direction for o in self.objectives]

    def counts(self) -> dict[str, int]:
        counts = {status: 0 for status in STATUS_ORDER}
        for exp in self.experiments:
            counts[exp.status] = counts.get(exp.status, 0) + 1
        return counts

    @property
    def hours(self) -> float | None:
        if self.started is None or self.ended is None:
            return None
        return max((self.ended - self.started).total_seconds(), 0.0) / 3600.0

    @property
    def per_hour(self) -> float | None:
        hours = self.hours
        return len(self.experiments) / hours if hours else None

    @property
    def gain(self) -> float | None:
        if self.hypervolume is None or self.baseline_hypervolume is None:
            return None
        return self.hypervolume - self.baseline_hypervolume

    @property
    def gain_percent(self) -> float | None:
        """The gain as a share of the baseline's own hypervolume (None when that is 0)."""
        if self.gain is None or not self.baseline_hypervolume:
            return None
        return 100.0 * self.gain / self.baseline_hypervolume

    def reference_text(self) -> str:
        """The reference point in words: each objective's value, and where the values came from."""
        if self.reference is None:
            return "no reference"
        values = ", ".join(f"{o.display()} {plain(self.reference[o.name])}" for o in self.objectives)
        return f"{values} ({self.reference_source})"

    def hypervolume_fact(self) -> tuple[str, str]:
        """(value, detail) of the headline's hypervolume, in numbers a reader can compare."""
        if self.gain is None:
            return "—", "no measured run to compare"
        pct = self.gain_percent
        value = f"{pct:+.1f} %" if pct is not None else f"{self.gain:+.4g}".replace("e-0", "e-")
        base = plain(self.baseline_hypervolume or 0.0)
        return value, (f"front {plain(self.hypervolume or 0.0)} against the baseline's {base}, "
                       f"measured from {self.reference_text()}")

    def row(self, exp_id: str) -> Row:
        for row in self.rows:
            if row.exp.id == exp_id:
                return row
        raise KeyError(exp_id)

    def to_json(self) -> dict[str, Any]:
        return {
            "workspace": str(self.workspace),
            "tag": self.tag,
            "experiments": len(self.experiments),
            "counts": self.counts(),
            "hours": self.hours,
            "experiments_per_hour": self.per_hour,
            "objectives": [{"name": o.name, "direction": o.direction} for o in self.objectives],
            "front": list(self.front),
            "ranks": {row.exp.id: row.rank for row in self.rows if row.rank is not None},
            "near_misses": list(self.near_misses),
            "reference": self.reference,
            "reference_source": self.reference_source,
            "baseline": self.baseline_id,
            "hypervolume": self.hypervolume,
            "baseline_hypervolume": self.baseline_hypervolume,
            "hypervolume_gain": self.gain,
            "hypervolume_gain_percent": self.gain_percent,
            "reference_text": self.reference_text(),
            "best": self.best,
            "best_any_run": self.best_any,
            "epsilon": self.epsilon,
            "warnings": list(self.ledger.warnings),
            "notes": list(self.notes),
            "journal": [{"about": j.subject.id if j.subject else j.lesson.about or None, "lesson": j.lesson.text,
                         "stated_by": j.stated_by.id} for j in self.journal],
            "plateaus": [{"ids": p.ids, "ended_by": p.ended_by} for p in self.plateaus],
            "cost": self.cost.to_json(),
            "collapsed": {row.exp.id: row.collapsed for row in self.rows if row.collapsed},
            "rows": [_row_json(r) for r in self.rows],
            "progress": [{"number": p.number, "id": p.id, "when": p.when.isoformat() if p.when else None,
                          "hypervolume": p.hypervolume, "running_best": p.running_best, "value": p.value}
                         for p in self.progress],
            "holdout": [{"id": h.id, "title": h.title, "val": h.val, "test": h.test, "images": h.images}
                        for h in self.holdout],
            "selection_optimism": self.optimism,
            "paired": {exp_id: {name: {"diff": iv.diff, "low": iv.low, "high": iv.high, "level": iv.level,
                                       "images": iv.images} for name, iv in found.items()}
                       for exp_id, found in self.intervals.items()},
            "curves": {exp_id: {"reading": self.curve_reading(exp_id), **curve.to_json()}
                       for exp_id, curve in self.curves.items()},
            "curve_parents": dict(self.curve_parents),
            "baseline_seed_collapses": {"seeds": self.baseline_seed_count,
                                        "collapsed": [{"baseline": b, "seed": s, "objectives": o}
                                                      for b, s, o in self.baseline_collapses]},
        }


def analyse(ledger: Ledger, config: Config, workspace: Path, tag: str | None = None) -> Analysis:
    objectives = list(config.objectives)
    names = [o.name for o in objectives]
    directions = [o.direction for o in objectives]
    exps = ledger.experiments
    notes: list[str] = []

    measured = [e for e in exps if e.is_measured(names)]
    kept = [e for e in measured if e.status.kept]
    discarded = [e for e in measured if not e.status.kept]
    for e in exps:
        if e.status.kept and not e.has_metrics(names):
            missing = [n for n in names if n not in e.metrics]
            ledger.warnings.append(f"{e.id}: status {e.status} but no value for {', '.join(missing)}; left off the front")

    def point(e: Experiment) -> list[float]:
        return [e.metrics[n] for n in names]

    kept_points = [point(e) for e in kept]
    kept_ranks = [int(r) for r in nondominated_ranks(kept_points, directions)] if kept else []
    rank_of = {e.id: r for e, r in zip(kept, kept_ranks)}
    front = [e.id for e in kept if rank_of[e.id] == 1]
    for e in discarded:
        rank_of[e.id] = rank_against(point(e), kept_points, kept_ranks, directions)

    baselines = [e for e in measured if e.status is Status.BASELINE]
    # A baseline measured here is the reference; one imported from an earlier results.tsv only
    # when no night ran here yet (imported rows are shown beside the nights, never re-judged).
    baselines = [e for e in baselines if e.imported is None] or baselines
    imported = sum(1 for e in exps if e.imported is not None)
    if imported:
        notes.append(f"{imported} experiment(s) imported from a results.tsv kept before gg-research are shown beside "
                     "the nights (ids h…, marked 'imported from'): measured elsewhere, never re-judged")
    baseline_point = {n: statistics.fmean(e.metrics[n] for e in baselines) for n in names} if baselines else None
    reference, source = reference_point(objectives, baseline_point, measured, notes, config.report.hypervolume_reference)

    epsilon = _epsilons(objectives, baselines, config.keep.min_epsilon)
    # The prompt's near misses are these same runs (pareto.near_misses); the report lists the
    # closest to the front first.
    closest = sorted(near_misses(exps, objectives, epsilon, baseline_point), key=lambda e: (rank_of[e.id], exps.index(e)))
    near = [e.id for e in closest[:MAX_NEAR_MISSES]]

    hv = base_hv = None
    if reference is not None:
        ref = [reference[n] for n in names]
        hv = hypervolume(kept_points, ref, directions)
        base_hv = hypervolume([[baseline_point[n] for n in names]], ref, directions) if baseline_point else 0.0
        if len(names) > 1 and hv == 0.0 and kept:
            notes.append("no kept run beats the reference on every objective, so the hypervolume is 0")

    fastest = throughput_reference([s.aux for e in baselines for s in e.seeds if s.ok])
    tolerance = config.run.load_tolerance

    def row(e: Experiment, rank: int | None) -> Row:
        return Row(e, rank, on_front=e.id in front, near_miss=e.id in near, load=load_skew(e.aux, fastest, tolerance),
                   collapsed=_collapsed_on(e, objectives, baseline_point))

    rows = [row(e, rank_of[e.id]) for e in measured]
    rows.sort(key=lambda r: (r.rank, 0 if r.exp.status.kept else 1, _order(exps, r.exp)))
    rows += [row(e, None) for e in exps if e not in measured]

    times = [t for e in exps if e.imported is None for t in (e.started_at, e.ended_at) if t is not None]
    base_id = baselines[0].id if baselines else None
    seed_collapses, seed_count = baseline_collapses(baselines, objectives)
    held = holdout_rows(Path(workspace), exps, ([base_id] if base_id else []) + [i for i in front if i != base_id], names)
    return Analysis(
        workspace=Path(workspace),
        tag=tag,
        objectives=objectives,
        ledger=ledger,
        rows=rows,
        front=front,
        near_misses=near,
        reference=reference,
        reference_source=source,
        baseline_id=baselines[0].id if baselines else None,
        hypervolume=hv,
        baseline_hypervolume=base_hv,
        best=bests(kept, objectives),
        best_any=bests(measured, objectives),
        epsilon=epsilon,
        progress=progress(exps, names, directions, reference),
        started=min(times) if times else None,
        ended=max(times) if times else None,
        notes=notes,
        journal=journal(exps),
        plateaus=[p for p in plateaus(exps) if config.proposer.plateau_after and p.length >= config.proposer.plateau_after],
        cost=night_cost(exps),
        holdout=held,
        optimism=selection_optimism(held, base_id, names),
        intervals=_intervals(Path(workspace), exps, kept, names, config.keep.paired_level),
        baseline_collapses=seed_collapses,
        baseline_seed_count=seed_count,
        **_front_curves(Path(workspace), exps, front),
        keep_test=config.keep.test,
    )


def _row_json(row: Row) -> dict[str, Any]:
    """An experiment as the ranking table shows it."""
    e = row.exp
    return {"id": e.id, "rank": row.rank, "on_front": row.on_front, "near_miss": row.near_miss, "status": str(e.status),
            "commit": e.commit, "parent": e.parent, "title": e.title, "metrics": e.metrics, "aux": e.aux,
            "reason": e.reason, "collapsed": row.collapsed, "load": row.load, "proposer": e.proposer, "diff": e.diff,
            "log": e.log, "started_at": e.started_at.isoformat() if e.started_at else None,
            "ended_at": e.ended_at.isoformat() if e.ended_at else None}


def _front_curves(ws: Path, exps: list[Experiment], front: list[str]) -> dict[str, Any]:
    """The curves of each front member and of its parent, as far as their run folders hold them."""
    by_id = {e.id: e for e in exps}
    curves: dict[str, Curve] = {}
    parents: dict[str, str | None] = {}
    for exp_id in front:
        parent = by_id[exp_id].parent if by_id[exp_id].parent in by_id else None
        parents[exp_id] = parent
        for wanted in (exp_id, parent):
            if wanted is not None and wanted not in curves:
                found = experiment_curve(ws, by_id[wanted])
                if found is not None:
                    curves[wanted] = found
    return {"curves": curves, "curve_parents": parents}


def _collapsed_on(e: Experiment, objectives: list[ObjectiveConfig], baseline: dict[str, float] | None) -> list[str]:
    """The objectives on which a run or one of its seeds broke a floor, as the loop marked them.

    A ledger written before seeds were marked is checked against the floors (the mean against the
    baseline's), as pareto.collapsed does; the baseline's seeds against their own median.
    """
    if e.status is Status.BASELINE:
        return sorted({n for _, _, names in baseline_collapses([e], objectives)[0] for n in names})
    names = {n for s in e.seeds if s.ok and s.collapse for n in s.collapse}
    if e.collapse or not any(s.collapse is not None for s in e.seeds):
        names |= set(run_collapses(e.metrics, objectives, baseline))
    return [o.name for o in objectives if o.name in names]


def _intervals(ws: Path, exps: list[Experiment], kept: list[Experiment], names: list[str], level: float
               ) -> dict[str, dict[str, Interval]]:
    """Each kept run's paired interval against its parent, on the same validation images."""
    by_id = {e.id: e for e in exps}
    out = {}
    for e in kept:
        parent = by_id.get(e.parent or "")
        mine, theirs = _first_ok_dir(e), _first_ok_dir(parent) if parent else None
        if mine and theirs:
            found = compare_runs(ws / mine, ws / theirs, names, level=level)
            if found:
                out[e.id] = found
    return out


def _first_ok_dir(exp: Experiment) -> str | None:
    return next((s.run_dir for s in exp.seeds if s.ok and s.run_dir), None)


def _order(exps: list[Experiment], exp: Experiment) -> int:
    return exps.index(exp)


def _epsilons(objectives: list[ObjectiveConfig], baselines: list[Experiment], min_epsilon: float) -> dict[str, float]:
    """The noise margin the loop measured and judged with, else as the loop computes it."""
    recorded = baselines[-1].epsilon if baselines else {}
    sigma = sigmas([s.metrics for e in baselines for s in e.seeds if s.ok] or [e.metrics for e in baselines],
                   [o.name for o in objectives])
    computed = epsilons(objectives, sigma, min_epsilon)
    return {o.name: float(o.epsilon) if o.epsilon is not None else recorded.get(o.name, computed[o.name])
            for o in objectives}
