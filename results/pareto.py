"""Pareto dominance, non-dominated sorting and hypervolume for any number of objectives.

Everything works on "losses": each objective turned so that lower is better (maximised
objectives are negated). Directions come from the config, so nothing here assumes two
objectives or that higher is better.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

Direction = Literal["maximize", "minimize"]


def to_loss(points: Sequence[Sequence[float]] | np.ndarray, directions: Sequence[Direction]) -> np.ndarray:
    """Points as an (n, k) float array where lower is better in every column."""
    arr = np.asarray(points, dtype=float)
    if arr.ndim == 1 and arr.size == 0:
        arr = arr.reshape(0, len(directions))
    if arr.ndim != 2 or arr.shape[1] != len(directions):
        raise ValueError(f"points must be (n, {len(directions)}), got shape {arr.shape}")
    signs = np.array([_sign(d) for d in directions], dtype=float)
    return arr * signs


def _sign(direction: str) -> float:
    if direction == "maximize":
        return -1.0
    if direction == "minimize":
        return 1.0
    raise ValueError(f"direction must be 'maximize' or 'minimize', not {direction!r}")


def dominates(a: Sequence[float], b: Sequence[float], directions: Sequence[Direction]) -> bool:
    """a is at least as good as b on every objective and better on one."""
    la, lb = to_loss([a, b], directions)
    return bool(np.all(la <= lb) and np.any(la < lb))


def _dominance_matrix(loss: np.ndarray) -> np.ndarray:
    """D[i, j] is True when point i dominates point j."""
    le = np.all(loss[:, None, :] <= loss[None, :, :], axis=2)
    lt = np.any(loss[:, None, :] < loss[None, :, :], axis=2)
    return le & lt


def nondominated_ranks(points: Sequence[Sequence[float]] | np.ndarray, directions: Sequence[Direction]) -> np.ndarray:
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


def pareto_mask(points: Sequence[Sequence[float]] | np.ndarray, directions: Sequence[Direction]) -> np.ndarray:
    """True for the points no other point dominates."""
    loss = to_loss(points, directions)
    if len(loss) == 0:
        return np.zeros(0, dtype=bool)
    return ~_dominance_matrix(loss).any(axis=0)


def rank_against(
    point: Sequence[float],
    points: Sequence[Sequence[float]] | np.ndarray,
    ranks: Sequence[int],
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


def hypervolume_2d(points: Sequence[Sequence[float]] | np.ndarray, reference: Sequence[float], directions: Sequence[Direction]) -> float:
    """The two-objective case (the PBQC x Dice area), same answer as `hypervolume`."""
    if len(directions) != 2:
        raise ValueError("hypervolume_2d needs exactly two objectives")
    return hypervolume(points, reference, directions)


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
