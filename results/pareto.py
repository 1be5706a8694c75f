"""The Pareto vocabulary, defined once: directions, dominance, front, floors, noise margins,
the margin by which one run beats another, near misses and hypervolume, for any number of
objectives.

The loop's keep rule and the report both call these, so the prompt and the report speak of
the same runs. Directions come from the config: `sign` turns every objective into "higher is
better" (a minimised one is negated) and is the only place that does; nothing here assumes two
objectives. Internally, sorting and hypervolume work on losses (the negated gains).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np
from numpy.typing import NDArray

from gg_research.config import ObjectiveConfig

if TYPE_CHECKING:
    from gg_research.results.ledger import Experiment

Direction = Literal["maximize", "minimize"]


def sign(direction: str) -> float:
    """+1 for a maximised objective, -1 for a minimised one: `sign * value` is higher-is-better."""
    if direction == "maximize":
        return 1.0
    if direction == "minimize":
        return -1.0
    raise ValueError(f"direction must be 'maximize' or 'minimize', not {direction!r}")


def to_loss(points: Sequence[Sequence[float]] | np.ndarray, directions: Sequence[Direction]) -> NDArray[np.float64]:
    """Points as an (n, k) float array where lower is better in every column."""
    arr: NDArray[np.float64] = np.asarray(points, dtype=np.float64)
    if arr.ndim == 1 and arr.size == 0:
        arr = arr.reshape(0, len(directions))
    if arr.ndim != 2 or arr.shape[1] != len(directions):
        raise ValueError(f"points must be (n, {len(directions)}), got shape {arr.shape}")
    signs: NDArray[np.float64] = np.array([-sign(d) for d in directions], dtype=np.float64)
    return arr * signs


def better(a: float, b: float, direction: str) -> bool:
    """a is strictly better than b."""
    return sign(direction) * (a - b) > 0


def dominates(a: Sequence[float], b: Sequence[float], directions: Sequence[Direction]) -> bool:
    """a is at least as good as b on every objective and better on one."""
    la, lb = to_loss([a, b], directions)
    return bool(np.all(la <= lb) and np.any(la < lb))


def _dominance_matrix(loss: NDArray[np.float64]) -> NDArray[np.bool_]:
    """D[i, j] is True when point i dominates point j."""
    le: NDArray[np.bool_] = np.all(loss[:, None, :] <= loss[None, :, :], axis=2)
    lt: NDArray[np.bool_] = np.any(loss[:, None, :] < loss[None, :, :], axis=2)
    return le & lt


def nondominated_ranks(points: Sequence[Sequence[float]] | np.ndarray, directions: Sequence[Direction]) -> NDArray[np.int_]:
    """Rank of each point: 1 for the Pareto front, 2 for the front once rank 1 is removed, ...

    Equal points dominate neither each other, so ties share a rank.
    """
    loss = to_loss(points, directions)
    n = len(loss)
    ranks = np.zeros(n, dtype=int)
    if n == 0:
        return ranks
    dom = _dominance_matrix(loss)
    dominated_by = dom.sum(axis=0)  # how many remaining points dominate each point
    remaining = np.ones(n, dtype=bool)
    rank = 0
    while remaining.any():
        rank += 1
        layer = remaining & (dominated_by == 0)
        ranks[layer] = rank
        remaining &= ~layer
        dominated_by -= dom[layer].sum(axis=0)
    return ranks


def pareto_mask(points: Sequence[Sequence[float]] | np.ndarray, directions: Sequence[Direction]) -> NDArray[np.bool_]:
    """True for the points no other point dominates."""
    loss = to_loss(points, directions)
    if len(loss) == 0:
        return np.zeros(0, dtype=bool)
    dominated: NDArray[np.bool_] = np.any(_dominance_matrix(loss), axis=0)
    return ~dominated


def rank_against(
    point: Sequence[float],
    points: Sequence[Sequence[float]] | np.ndarray,
    ranks: Sequence[int] | NDArray[np.int_],
    directions: Sequence[Direction],
) -> int:
    """The layer a new point would sit in among already ranked points (1 + deepest dominator)."""
    deepest = 0
    for other, rank in zip(points, ranks):
        if dominates(other, point, directions):
            deepest = max(deepest, int(rank))
    return deepest + 1


def hypervolume(
    points: Sequence[Sequence[float]] | np.ndarray,
    reference: Sequence[float],
    directions: Sequence[Direction],
) -> float:
    """Volume of objective space the points dominate, bounded by the reference point.

    Only the part better than the reference on every objective counts, so a point that
    is worse than the reference on any objective adds nothing. Exact in any dimension
    (slicing on the last objective); the report has a handful of objectives and at most a
    few hundred points, where this is instant.
    """
    loss = to_loss(points, directions)
    ref = to_loss([reference], directions)[0]
    if len(loss) == 0:
        return 0.0
    loss = loss[np.all(loss < ref, axis=1)]
    if len(loss) == 0:
        return 0.0
    loss = loss[~_dominance_matrix(loss).any(axis=0)]
    return float(_hv_loss(np.unique(loss, axis=0), ref))


def _hv_loss(loss: np.ndarray, ref: np.ndarray) -> float:
    """Hypervolume of points that all lie strictly below ref (minimisation)."""
    k = loss.shape[1]
    if len(loss) == 0:
        return 0.0
    if k == 1:
        return float(ref[0] - loss[:, 0].min())
    if k == 2:
        # Sweep by the first objective; each point adds the strip below the best second value so far.
        order = np.argsort(loss[:, 0], kind="stable")
        area, best_y = 0.0, ref[1]
        xs, ys = loss[order, 0], loss[order, 1]
        for i in range(len(xs)):
            if ys[i] < best_y:
                area += (ref[0] - xs[i]) * (best_y - ys[i])
                best_y = ys[i]
        return float(area)
    # Slice along the last objective: between consecutive values the dominated region is a
    # fixed (k-1)-dimensional set times the slice thickness.
    order = np.argsort(loss[:, -1], kind="stable")
    loss = loss[order]
    total = 0.0
    for i in range(len(loss)):
        upper = loss[i + 1, -1] if i + 1 < len(loss) else ref[-1]
        depth = upper - loss[i, -1]
        if depth > 0:
            total += depth * _hv_loss(loss[: i + 1, :-1], ref[:-1])
    return float(total)


# -- floors, noise margins and near misses -----------------------------------------------------------

def floor_violation(o: ObjectiveConfig, value: float, baseline: float | None) -> str | None:
    """Why `value` breaks one of the objective's floors (a collapse), or None."""
    s = sign(o.direction)
    if o.floor is not None and s * (value - o.floor) < 0:
        return f"{o.name} {value:.4g} breaks its floor {o.floor:.4g}"
    if o.relative_floor is not None and baseline is not None:
        bound = _relative_bound(o, baseline)
        if s * (value - bound) < 0:
            return f"{o.name} {value:.4g} collapsed below {o.relative_floor:g} x baseline {baseline:.4g}"
    return None


def _relative_bound(o: ObjectiveConfig, baseline: float) -> float:
    # Minimising, "keep a fraction" means not growing past baseline / fraction.
    if sign(o.direction) > 0:
        return baseline * float(o.relative_floor or 0.0)
    return baseline / o.relative_floor if o.relative_floor else math.inf


def collapse_floor(o: ObjectiveConfig, baseline: float | None) -> float | None:
    """The worst value of `o` that is not a collapse (the stricter of its floors), or None when it has none."""
    bounds = [float(o.floor)] if o.floor is not None else []
    if o.relative_floor is not None and baseline is not None:
        bounds.append(_relative_bound(o, baseline))
    bounds = [b for b in bounds if math.isfinite(b)]
    if not bounds:
        return None
    return max(bounds) if sign(o.direction) > 0 else min(bounds)


def sigmas(seed_metrics: Sequence[Mapping[str, float]], names: Sequence[str]) -> dict[str, float]:
    """Sample standard deviation of each metric over the baseline's seeds (0 with one seed)."""
    out = {}
    for n in names:
        vals = [m[n] for m in seed_metrics if n in m and math.isfinite(m[n])]
        out[n] = statistics.stdev(vals) if len(vals) > 1 else 0.0
    return out


def epsilons(objectives: Sequence[ObjectiveConfig], sigma: Mapping[str, float], min_epsilon: float) -> dict[str, float]:
    """Noise margin per objective: the configured one, else max(2 sigma, min_epsilon)."""
    return {o.name: o.epsilon if o.epsilon is not None else max(2.0 * sigma.get(o.name, 0.0), min_epsilon)
            for o in objectives}


def gains(candidate: Mapping[str, float], other: Mapping[str, float],
          objectives: Sequence[ObjectiveConfig]) -> dict[str, float]:
    """How much better `candidate` is than `other` on each objective both hold (negative: worse).

    In each objective's own units, signed by its direction, so a positive gain is an improvement
    whether the objective is maximised or minimised.
    """
    return {o.name: sign(o.direction) * (candidate[o.name] - other[o.name])
            for o in objectives if o.name in candidate and o.name in other}


def epsilon_wins(gain: Mapping[str, float], eps: Mapping[str, float]) -> dict[str, float]:
    """The objectives whose gain is beyond its noise margin, each with the gain in margins
    (infinite where the margin is 0).

    Empty means the other run epsilon-dominates the candidate: within one margin of it, or better,
    on every objective. The keep rule's Pareto test is a non-empty answer against every kept run.
    """
    return {n: g / eps[n] if eps[n] > 0 else math.inf for n, g in gain.items() if g > eps[n]}


def run_collapses(metrics: Mapping[str, float], objectives: Sequence[ObjectiveConfig],
                  baseline: Mapping[str, float] | None) -> list[str]:
    """The objectives on which one run's values break a floor (the run collapsed on them)."""
    return [o.name for o in objectives
            if o.name in metrics and floor_violation(o, metrics[o.name], (baseline or {}).get(o.name))]


def seed_reference(seed_metrics: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """What a baseline's own seeds are measured against for a collapse: each objective's median seed.

    The median, not the mean, so one collapsed seed of three does not drag the reference down
    with it; with one or two seeds it is their mean.
    """
    keys = {k for m in seed_metrics for k in m}
    return {k: statistics.median(m[k] for m in seed_metrics if k in m) for k in sorted(keys)}


def baseline_collapses(baselines: Sequence[Experiment], objectives: Sequence[ObjectiveConfig]
                       ) -> tuple[list[tuple[str, int, list[str]]], int]:
    """([(baseline id, seed, objectives it collapsed on)], seeds counted) over the baselines' ok seeds.

    The loop records each seed's collapses; a ledger written before it did is checked against the
    floors here, so an older night's bistable baseline shows too.
    """
    found, total = [], 0
    for b in baselines:
        ok = [s for s in b.seeds if s.ok]
        reference = seed_reference([s.metrics for s in ok])
        for s in ok:
            total += 1
            names = s.collapse if s.collapse is not None else run_collapses(s.metrics, objectives, reference)
            if names:
                found.append((b.id, s.seed, list(names)))
    return found, total


def collapsed(exp: Experiment, objectives: Sequence[ObjectiveConfig], baseline: Mapping[str, float] | None) -> bool:
    """A run that broke a floor: the loop flags it; older ledgers are checked against the floors."""
    if exp.collapse:
        return True
    return any(floor_violation(o, exp.metrics[o.name], (baseline or {}).get(o.name)) for o in objectives
               if o.name in exp.metrics)


def near_misses(
    experiments: Sequence[Experiment],
    objectives: Sequence[ObjectiveConfig],
    eps: Mapping[str, float],
    baseline: Mapping[str, float] | None,
) -> list[Experiment]:
    """Discarded runs that a nudge of one noise margin per objective would put on the front.

    The front is that of the kept runs among `experiments`; a collapse is never a near miss,
    however close. In ledger order.
    """
    names = [o.name for o in objectives]
    directions = [o.direction for o in objectives]
    measured = [e for e in experiments if e.is_measured(names)]
    kept = [[e.metrics[n] for n in names] for e in measured if e.status.kept]
    front = [p for p, on in zip(kept, pareto_mask(kept, directions)) if on] if kept else []
    out = []
    for e in measured:
        if e.status.kept or collapsed(e, objectives, baseline):
            continue
        nudged = [e.metrics[o.name] + sign(o.direction) * eps.get(o.name, 0.0) for o in objectives]
        if not any(dominates(f, nudged, directions) for f in front):
            out.append(e)
    return out
