"""The keep rule (DESIGN.md: Keep rule): pareto, scalar or threshold, with floors and noise margins.

All comparisons happen on direction-normalised values (a minimised objective is negated,
as optuna does), so "bigger is better" everywhere below.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from gg_research.config import Config, ObjectiveConfig


@dataclass(frozen=True)
class Decision:
    status: Literal["keep", "discard", "rerun"]
    reason: str
    collapse: bool = False  # a floor broke: the proposer is told what collapsed


def sigmas(seed_metrics: Sequence[Mapping[str, float]], names: Sequence[str]) -> dict[str, float]:
    """Sample standard deviation of each metric over the baseline's seeds (0 with one seed)."""
    out = {}
    for n in names:
        vals = [m[n] for m in seed_metrics if n in m and math.isfinite(m[n])]
        out[n] = statistics.stdev(vals) if len(vals) > 1 else 0.0
    return out


def epsilons(config: Config, sigma: Mapping[str, float]) -> dict[str, float]:
    """Noise margin per objective: the configured one, else max(2 sigma, keep.min_epsilon)."""
    return {
        o.name: o.epsilon if o.epsilon is not None else max(2.0 * sigma.get(o.name, 0.0), config.keep.min_epsilon)
        for o in config.objectives
    }


def mean_metrics(seed_metrics: Sequence[Mapping[str, float]]) -> dict[str, float]:
    keys = {k for m in seed_metrics for k in m}
    return {k: statistics.fmean([m[k] for m in seed_metrics if k in m]) for k in sorted(keys)}


def _sign(o: ObjectiveConfig) -> float:
    return 1.0 if o.direction == "maximize" else -1.0


def floor_violation(o: ObjectiveConfig, value: float, baseline: float | None) -> str | None:
    """Why `value` breaks one of the objective's floors, or None."""
    better_or_equal = (lambda a, b: a >= b) if o.direction == "maximize" else (lambda a, b: a <= b)
    if o.floor is not None and not better_or_equal(value, o.floor):
        return f"{o.name} {value:.4g} breaks its floor {o.floor:.4g}"
    if o.relative_floor is not None and baseline is not None:
        # Minimising, "keep a fraction" means not growing past baseline / fraction.
        bound = baseline * o.relative_floor if o.direction == "maximize" else (
            baseline / o.relative_floor if o.relative_floor > 0 else math.inf)
        if not better_or_equal(value, bound):
            return f"{o.name} {value:.4g} collapsed below {o.relative_floor:g} x baseline {baseline:.4g}"
    return None


def _aux_violation(config: Config, aux: Mapping[str, float], base_aux: Mapping[str, float]) -> str | None:
    k = config.keep
    if k.max_slowdown is not None:
        run, base = aux.get("img_per_sec"), base_aux.get("img_per_sec")
        if run and base and base / run > k.max_slowdown:
            return f"img/s {run:.1f} is {base / run:.2f}x slower than baseline {base:.1f} (max {k.max_slowdown:g}x)"
    if k.max_memory_growth is not None:
        run, base = aux.get("peak_memory_mb"), base_aux.get("peak_memory_mb")
        if run and base and run / base > k.max_memory_growth:
            return f"peak memory {run:.0f} MB is {run / base:.2f}x the baseline's {base:.0f} MB (max {k.max_memory_growth:g}x)"
    return None


def decide(
    config: Config,
    candidate: Mapping[str, float],
    kept: Sequence[Mapping[str, float]],
    baseline: Mapping[str, float],
    eps: Mapping[str, float],
    *,
    aux: Mapping[str, float] | None = None,
    baseline_aux: Mapping[str, float] | None = None,
    allow_rerun: bool = True,
) -> Decision:
    """Judge a run's (mean) metrics against the kept runs (the baseline counts as kept)."""
    objs = config.objectives
    for o in objs:
        v = candidate.get(o.name)
        if v is None or not math.isfinite(v):
            return Decision("discard", f"{o.name} missing or not finite", collapse=True)
    for o in objs:
        why = floor_violation(o, candidate[o.name], baseline.get(o.name))
        if why:
            return Decision("discard", why, collapse=True)
    why = _aux_violation(config, aux or {}, baseline_aux or {})
    if why:
        return Decision("discard", why)
    kept = list(kept) or [baseline]
    rule = config.keep.rule
    rerun = allow_rerun and config.keep.rerun_marginal
    if rule == "pareto":
        return _pareto(objs, candidate, kept, eps, rerun)
    if rule == "scalar":
        return _scalar(objs, candidate, kept, eps, rerun)
    return _threshold(config.objective(config.keep.primary), candidate, kept, eps, rerun)


def _pareto(objs, candidate, kept, eps, rerun) -> Decision:
    smallest_win = math.inf  # in units of epsilon, over the kept runs
    won_on: set[str] = set()
    for k in kept:
        margins = {o.name: _sign(o) * (candidate[o.name] - k[o.name]) for o in objs if o.name in k}
        wins = {n: m / eps[n] if eps[n] > 0 else math.inf for n, m in margins.items() if m > eps[n]}
        if not wins:
            near = ", ".join(f"{n} {m:+.4f}" for n, m in margins.items())
            return Decision("discard", f"within noise of or dominated by a kept run ({near}; eps {_fmt_eps(eps)})")
        smallest_win = min(smallest_win, max(wins.values()))
        won_on.update(wins)
    best = ", ".join(o.name for o in objs if o.name in won_on)
    if rerun and smallest_win < 2.0:
        return Decision("rerun", f"marginal win ({smallest_win:.2f} eps) on {best}: re-run with another seed")
    return Decision("keep", f"beats every kept run on some objective by more than eps ({_fmt_eps(eps)})")


def _scalar(objs, candidate, kept, eps, rerun) -> Decision:
    def score(m: Mapping[str, float]) -> float:
        return sum(o.weight * _sign(o) * m[o.name] for o in objs)

    eps_s = sum(abs(o.weight) * eps[o.name] for o in objs)
    best = max(score(k) for k in kept)
    gain = score(candidate) - best
    if gain <= eps_s:
        return Decision("discard", f"weighted score {score(candidate):.4f} not above the best kept {best:.4f} by eps {eps_s:.4f}")
    if rerun and gain < 2 * eps_s:
        return Decision("rerun", f"marginal weighted gain {gain:.4f} < 2 eps {2 * eps_s:.4f}: re-run with another seed")
    return Decision("keep", f"weighted score {score(candidate):.4f} beats the best kept {best:.4f} by {gain:.4f} > eps {eps_s:.4f}")


def _threshold(primary: ObjectiveConfig, candidate, kept, eps, rerun) -> Decision:
    n, s = primary.name, _sign(primary)
    best = max(s * k[n] for k in kept)
    gain = s * candidate[n] - best
    if gain <= eps[n]:
        return Decision("discard", f"{n} {candidate[n]:.4f} not better than the best kept {s * best:.4f} by eps {eps[n]:.4f}")
    if rerun and gain < 2 * eps[n]:
        return Decision("rerun", f"marginal {n} gain {gain:.4f} < 2 eps: re-run with another seed")
    return Decision("keep", f"{n} {candidate[n]:.4f} beats the best kept {s * best:.4f} by {gain:.4f} with every floor held")


def _fmt_eps(eps: Mapping[str, float]) -> str:
    return ", ".join(f"{n} {v:.4f}" for n, v in eps.items())
