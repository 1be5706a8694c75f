"""How a night progressed: the hypervolume's reference point, the front's area after each
experiment, the running bests, and the plain figures the report writes them in."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gg_research.config import ObjectiveConfig
from gg_research.results.pareto import Direction, better, collapse_floor, hypervolume, sign
from gg_research.results.record import Experiment


@dataclass
class ProgressPoint:
    number: int  # 1-based position in the ledger
    id: str
    when: datetime | None
    hypervolume: float | None
    running_best: dict[str, float | None]  # best kept value so far, per objective
    value: dict[str, float | None]  # this experiment's own measured value


def plain(v: float) -> str:
    """A figure without an exponent, to four significant digits (areas of scores in [0, 1] are small)."""
    if v == 0 or not 1e-6 <= abs(v) < 1e6:
        return f"{v:.4g}"
    digits = max(0, 3 - int(math.floor(math.log10(abs(v)))))
    return f"{v:.{digits}f}"


def reference_point(
    objectives: list[ObjectiveConfig],
    baseline: dict[str, float] | None,
    measured: list[Experiment],
    notes: list[str],
    mode: str = "floors",
) -> tuple[dict[str, float] | None, str]:
    """The hypervolume's reference point and where it came from. By default each objective's collapse
    floor ([report] hypervolume_reference = "floors"), so a kept trade-off that gives up a little of
    one objective for another still adds area; "baseline" measures from the baseline's own values."""
    if all(o.reference is not None for o in objectives):
        return {o.name: o.reference for o in objectives if o.reference is not None}, "config"
    if baseline is not None:
        ref: dict[str, float] = {}
        used: set[str] = set()
        for o in objectives:
            floor = collapse_floor(o, baseline[o.name]) if mode == "floors" else None
            if o.reference is not None:
                ref[o.name], kind = float(o.reference), "config"
            elif floor is not None:
                ref[o.name], kind = floor, "collapse floors"
            else:
                ref[o.name], kind = baseline[o.name], "baseline"
            used.add(kind)
        return ref, " and ".join(k for k in ("config", "collapse floors", "baseline") if k in used)
    if measured:
        notes.append("no baseline was measured, so the hypervolume is taken against the worst measured values")
        ref = {}
        for o in objectives:
            values = [e.metrics[o.name] for e in measured]
            worst = min(values, key=lambda v: sign(o.direction) * v)
            ref[o.name] = float(o.reference) if o.reference is not None else worst
        return ref, "worst measured"
    return None, "none"


def bests(exps: list[Experiment], objectives: list[ObjectiveConfig]) -> dict[str, dict[str, Any] | None]:
    best: dict[str, dict[str, Any] | None] = {}
    for o in objectives:
        candidates = [e for e in exps if o.name in e.metrics]
        if not candidates:
            best[o.name] = None
            continue
        value = candidates[0].metrics[o.name]
        for e in candidates[1:]:
            if better(e.metrics[o.name], value, o.direction):
                value = e.metrics[o.name]
        # The earliest experiment wins a tie: it reached the value first.
        first = next(e for e in candidates if e.metrics[o.name] == value)
        best[o.name] = {"id": first.id, "value": value}
    return best


def progress(
    exps: list[Experiment], names: list[str], directions: list[Direction], reference: dict[str, float] | None
) -> list[ProgressPoint]:
    pool: list[list[float]] = []
    running: dict[str, float | None] = {n: None for n in names}
    out: list[ProgressPoint] = []
    ref = [reference[n] for n in names] if reference else None
    for number, e in enumerate(exps, start=1):
        measured = e.is_measured(names)
        if measured and e.status.kept:
            pool.append([e.metrics[n] for n in names])
            for n, d in zip(names, directions):
                v, cur = e.metrics[n], running[n]
                if cur is None or better(v, cur, d):
                    running[n] = v
        out.append(
            ProgressPoint(
                number=number,
                id=e.id,
                when=e.ended_at or e.started_at,
                hypervolume=hypervolume(pool, ref, directions) if ref is not None else None,
                running_best=dict(running),
                value={n: (e.metrics.get(n) if measured else None) for n in names},
            )
        )
    return out
