"""The keep rule (ARCHITECTURE.md: The keep rule): pareto, scalar or threshold, with floors and noise margins.

Directions, floors and noise margins come from `results.pareto`, the one definition the report
shares; every comparison below is on `sign(direction) * value`, so "bigger is better".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from gg_research.config import Config, ObjectiveConfig
from gg_research.results.lifecycle import Status
from gg_research.results.paired import Interval
from gg_research.results.pareto import epsilon_wins, epsilons, floor_violation, gains, sign


class Verdict(StrEnum):
    """What the keep rule says of a run: keep it, discard it, or run it again before saying."""

    KEEP = "keep"
    DISCARD = "discard"
    RERUN = "rerun"

    @property
    def final_status(self) -> Status:
        """The experiment's status when this verdict is the last word (a re-run is never the last)."""
        if self is Verdict.RERUN:
            raise ValueError("a re-run verdict is not an experiment's end")
        return Status.KEEP if self is Verdict.KEEP else Status.DISCARD


@dataclass(frozen=True)
class Decision:
    status: Verdict
    reason: str
    collapse: bool = False  # a floor broke: the proposer is told what collapsed


def next_unused_seed(first_seed: int, baseline_seeds: int, seeds_so_far: int) -> int:
    """The seed of a marginal win's re-run: one neither the baseline nor this experiment has used.

    The baseline ran seeds first_seed .. first_seed + baseline_seeds - 1; a candidate's first
    run uses first_seed (paired with the baseline's), so re-runs count on from past the baseline's.
    """
    return first_seed + baseline_seeds + seeds_so_far


def margins(config: Config, sigma: Mapping[str, float], *, pairable: bool = True) -> dict[str, float]:
    """The noise margins (epsilon) decisions use, from the baseline's seed spread `sigma`.

    2 sigma per objective (results.pareto.epsilons), except under keep.test = "paired-all", which
    pairs the candidate with each baseline seed instead: there the margin is min_epsilon, since two
    seeds of a bistable target (one collapsed) give a 2 sigma wider than any real gain. That holds
    only while there is something to pair: with `pairable` False (the baseline's runs left no
    per-image counts, as a `[run] command` that writes only its metrics) no keep is ever paired,
    and min_epsilon alone would keep every lucky seed, so the 2 sigma margin stays.
    """
    spread = {} if config.keep.test == "paired-all" and pairable else sigma
    return epsilons(config.objectives, spread, config.keep.min_epsilon)


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
            return Decision(Verdict.DISCARD, f"{o.name} missing or not finite", collapse=True)
    for o in objs:
        why = floor_violation(o, candidate[o.name], baseline.get(o.name))
        if why:
            return Decision(Verdict.DISCARD, why, collapse=True)
    why = _aux_violation(config, aux or {}, baseline_aux or {})
    if why:
        return Decision(Verdict.DISCARD, why)
    kept = list(kept) or [baseline]
    rule = config.keep.rule
    rerun = allow_rerun and config.keep.rerun_marginal
    if rule == "pareto":
        return _pareto(objs, candidate, kept, eps, rerun)
    if rule == "scalar":
        return _scalar(objs, candidate, kept, eps, rerun)
    return _threshold(config.objective(config.keep.primary), candidate, kept, eps, rerun)


def _pareto(objs: Sequence[ObjectiveConfig], candidate: Mapping[str, float], kept: Sequence[Mapping[str, float]],
            eps: Mapping[str, float], rerun: bool) -> Decision:
    smallest_win = math.inf  # in units of epsilon, over the kept runs
    won_on: set[str] = set()
    for k in kept:
        gain = gains(candidate, k, objs)
        wins = epsilon_wins(gain, eps)
        if not wins:
            near = ", ".join(f"{n} {m:+.4f}" for n, m in gain.items())
            return Decision(Verdict.DISCARD, f"within noise of or dominated by a kept run ({near}; eps {_fmt_eps(eps)})")
        smallest_win = min(smallest_win, max(wins.values()))
        won_on.update(wins)
    best = ", ".join(o.name for o in objs if o.name in won_on)
    if rerun and smallest_win < 2.0:
        return Decision(Verdict.RERUN, f"marginal win ({smallest_win:.2f} eps) on {best}: re-run with another seed")
    return Decision(Verdict.KEEP, f"beats every kept run on some objective by more than eps ({_fmt_eps(eps)})")


def _scalar(objs: Sequence[ObjectiveConfig], candidate: Mapping[str, float], kept: Sequence[Mapping[str, float]],
            eps: Mapping[str, float], rerun: bool) -> Decision:
    def score(m: Mapping[str, float]) -> float:
        return float(sum(o.weight * sign(o.direction) * m[o.name] for o in objs))

    eps_s = sum(abs(o.weight) * eps[o.name] for o in objs)
    best = max(score(k) for k in kept)
    gain = score(candidate) - best
    if gain <= eps_s:
        return Decision(Verdict.DISCARD, f"weighted score {score(candidate):.4f} not above the best kept {best:.4f} by eps {eps_s:.4f}")
    if rerun and gain < 2 * eps_s:
        return Decision(Verdict.RERUN, f"marginal weighted gain {gain:.4f} < 2 eps {2 * eps_s:.4f}: re-run with another seed")
    return Decision(Verdict.KEEP, f"weighted score {score(candidate):.4f} beats the best kept {best:.4f} by {gain:.4f} > eps {eps_s:.4f}")


def _threshold(primary: ObjectiveConfig, candidate: Mapping[str, float], kept: Sequence[Mapping[str, float]],
               eps: Mapping[str, float], rerun: bool) -> Decision:
    n, s = primary.name, sign(primary.direction)
    best = max(s * k[n] for k in kept)
    gain = s * candidate[n] - best
    if gain <= eps[n]:
        return Decision(Verdict.DISCARD, f"{n} {candidate[n]:.4f} not better than the best kept {s * best:.4f} by eps {eps[n]:.4f}")
    if rerun and gain < 2 * eps[n]:
        return Decision(Verdict.RERUN, f"marginal {n} gain {gain:.4f} < 2 eps: re-run with another seed")
    return Decision(Verdict.KEEP, f"{n} {candidate[n]:.4f} beats the best kept {s * best:.4f} by {gain:.4f} with every floor held")


def paired_verdict(objectives: Sequence[ObjectiveConfig], found: Sequence[Mapping[str, Interval]]
                   ) -> tuple[list[str], list[str]]:
    """(objectives surely better than every reference run, objectives surely worse than any of them).

    `found` holds, per reference run (a seed of the parent), the paired intervals of the candidate
    against it on the same images (results.paired). A keep needs the first list non-empty and the
    second empty: one reference run is one draw of the parent's seed, and a low draw (a collapsed
    seed) is beaten by anything, so with more draws the candidate must beat each of them.
    """
    better, worse = [], []
    for o in objectives:
        s = sign(o.direction)
        ivs = [f[o.name] for f in found if o.name in f]
        if not ivs:
            continue
        if all((iv.sure_better if s > 0 else iv.sure_worse) for iv in ivs):
            better.append(o.name)
        if any((iv.sure_worse if s > 0 else iv.sure_better) for iv in ivs):
            worse.append(o.name)
    return better, worse


def weak_objectives(objectives: Sequence[ObjectiveConfig], seeds: Sequence[Mapping[str, float]]) -> dict[str, str]:
    """The objectives a baseline is too weak to judge on, each with why: its seeds all scored the same (no
    spread, so the noise margin is only the minimum) or all sit at the objective's floor.

    A baseline that learned nothing within its budget (Dice 0 on every seed) makes any speck of signal
    look like a win; a keep on such an objective needs per-image evidence (Trial.verdict).
    """
    weak: dict[str, str] = {}
    for o in objectives:
        values = [m[o.name] for m in seeds if o.name in m and math.isfinite(m[o.name])]
        if len(values) < 1:
            continue
        if o.floor is not None and all(floor_violation(o, v, None) is not None or v == o.floor for v in values):
            weak[o.name] = f"at its floor {o.floor:g} on every seed"
        elif len(values) >= 2 and max(values) - min(values) == 0:
            weak[o.name] = f"the same on every seed ({values[0]:.4f}): no spread to measure its noise by"
    return weak


def weak_baseline_notice(objectives: Sequence[ObjectiveConfig], seeds: Sequence[Mapping[str, float]],
                         budget: str) -> str | None:
    """One line saying the baseline is too weak to judge some objective on, and the remedy; None when it is not."""
    weak = weak_objectives(objectives, seeds)
    if not weak:
        return None
    what = "; ".join(f"{name}: {why}" for name, why in weak.items())
    longer = "a longer budget ([run] budget_s)" if budget == "time" else "more images ([run] budget_images)"
    return (f"the baseline is too weak to judge on {', '.join(weak)} ({what}): a change is kept on "
            f"{'that objective' if len(weak) == 1 else 'those objectives'} only when its per-image evidence says "
            f"it is surely better; remedy: {longer} or more training images, then a new tag")


def _fmt_eps(eps: Mapping[str, float]) -> str:
    return ", ".join(f"{n} {v:.4f}" for n, v in eps.items())
