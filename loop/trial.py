"""One experiment's runs and verdict: integrity checks, the run, a re-run of a marginal win, the keep rule.

`Trial.judge` runs a committed experiment and returns its `Fate` (results.lifecycle): the cycle
(loop.cycle) settles and records it. Trial adds the seeds' runs to the experiment (each seed's
status is the harness's, set once by `records.seed_record`; a busy machine's run gets its
`LoadSkew` flag here) and never sets the experiment's status, writes the ledger or moves the branch.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from gg_research.config import Config
from gg_research.harness.runner import RunResult
from gg_research.loop import integrity, keep
from gg_research.loop.git import Git
from gg_research.loop.keep import Decision, Verdict
from gg_research.loop.records import frozen_of, mark_collapses, mean_metrics, non_finite, phase_times, seed_record, set_means
from gg_research.loop.runner import RunFn
from gg_research.loop.ui import LoopUI
from gg_research.results.ledger import Experiment
from gg_research.results.lifecycle import Cause, Fate, LoadSkew, Status
from gg_research.results.paired import compare_runs
from gg_research.results.pareto import epsilons
from gg_research.results.throughput import load_skew, reference, short_of_images


@dataclass
class Timings:
    """Where an iteration's wall time went (the loop benchmark reads these)."""

    proposal: float = 0.0
    apply_commit: float = 0.0
    run: float = 0.0
    decision: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Measured:
    """An experiment whose runs are done and whose verdict is still to be given."""

    reran: bool  # a marginal win was run again with another seed: the verdict is on the mean


@dataclass
class Trial:
    """Runs experiments of one workspace and judges them; the budget and seeds are the config's."""

    ws: Path
    cfg: Config
    git: Git
    run_fn: RunFn
    ui: LoopUI

    @property
    def objectives(self) -> list[str]:
        return [o.name for o in self.cfg.objectives]

    @property
    def budget(self) -> float:
        return self.cfg.run.budget_s

    def run_with_seed(self, exp: Experiment, label: str, run_dir: Path, seed: int,
                      checkout: Path | None = None) -> RunResult:
        """One run of `exp`'s files with `seed`, in `checkout` (a worktree of a parallel loop) or the workspace."""
        self.ui.start(exp.id, f"{label} (seed {seed})", self.budget)
        try:
            return self.run_fn(checkout or self.ws, run_dir, config=self.cfg, seed=seed,
                               hard_limit_s=self.cfg.run.effective_hard_limit(self.budget))
        finally:
            self.ui.stop()

    def judge(self, exp: Experiment, parent: Experiment, baseline: Experiment, kept: list[Experiment],
              run_dir: Path, t: Timings) -> Fate:
        """Run `exp` (committed on top of `parent`) and give its fate."""
        measured = self.measure(exp, parent, baseline, lambda: kept, run_dir, t)
        if isinstance(measured, Fate):
            return measured
        return self.verdict(exp, parent, baseline, kept, measured, t)

    def measure(self, exp: Experiment, parent: Experiment, baseline: Experiment, front: Callable[[], list[Experiment]],
                run_dir: Path, t: Timings, checkout: Path | None = None) -> Measured | Fate:
        """Every run `exp` needs, its seeds recorded; a Fate when that already settled it (invalid, crash).

        A marginal win against the front as it stands now (`front()`) is re-run here, so that the
        verdict, which a parallel loop gives later against the front as it stands then, runs nothing.
        """
        where = checkout or self.ws
        try:
            first = self._first_run(exp, parent, baseline, run_dir, t, where)
            if isinstance(first, Fate):
                return first
            skew = self._load_skew(exp, baseline, run_dir, t, checkout)
            if isinstance(skew, Fate):
                return skew
            if skew is not None and not exp.seeds[-1].ok:
                return Fate(Status.CRASH, Cause.RERUN_FAILED, f"re-run after a busy machine failed: {exp.seeds[-1].error}")
            decision = self._decide(exp, baseline, front(), self._eps(baseline), allow_rerun=True)
            if decision.status is not Verdict.RERUN:
                return Measured(reran=False)
            self.ui.say(f"{exp.id}: {decision.reason}")
            return self._rerun_marginal(exp, baseline, run_dir, t, checkout)
        finally:
            set_means(exp)

    def _rerun_marginal(self, exp: Experiment, baseline: Experiment, run_dir: Path, t: Timings,
                        checkout: Path | None) -> Measured | Fate:
        """A marginal win's second run, with a seed neither the baseline nor `exp` used."""
        seed = keep.next_unused_seed(self.cfg.run.seed, self.cfg.keep.baseline_seeds, len(exp.seeds))
        res, broke = self._run(exp, exp.title + " (re-run)", run_dir / f"seed{seed}", seed, checkout, baseline, t,
                               f"re-run with seed {seed}: ")
        if broke is not None:
            return broke
        if not exp.seeds[-1].ok:
            why = f"re-run with seed {seed} failed: {res.error or 'non-finite metrics'}"
            return self._finish(exp, baseline, Decision(Verdict.DISCARD, why), Cause.RERUN_FAILED)
        return Measured(reran=True)

    def verdict(self, exp: Experiment, parent: Experiment, baseline: Experiment, kept: list[Experiment],
                measured: Measured, t: Timings) -> Fate:
        """The keep rule on `exp`'s measured seeds against the kept runs `kept`; runs nothing."""
        td = time.monotonic()
        decision = self._decide(exp, baseline, kept, self._eps(baseline), allow_rerun=False)
        if measured.reran:
            decision = Decision(decision.status, f"mean of {len(exp.seeds)} seeds: {decision.reason}", decision.collapse)
        weak = keep.weak_objectives(self.cfg.objectives, [s_.metrics for s_ in baseline.seeds if s_.ok])
        if decision.status is Verdict.KEEP and weak:
            decision = self._weak_keep(exp, parent, baseline, kept, decision, weak)
        if decision.status is Verdict.KEEP and self.cfg.keep.test != "margin":
            decision = self._paired(exp, parent, decision)
        fate = self._finish(exp, baseline, decision, Cause.KEEP_RULE)
        t.decision += time.monotonic() - td
        return fate

    def _first_run(self, exp: Experiment, parent: Experiment, baseline: Experiment, run_dir: Path, t: Timings,
                   where: Path) -> RunResult | Fate:
        """Integrity checks around the first run; the run's result, or the fate that settles `exp`."""
        problem = integrity.commit_problem(self.git, parent.commit, exp.commit, self.cfg.workspace.mutable)
        if problem is None:
            problem = integrity.fingerprint_problem(baseline.frozen, integrity.frozen_fingerprint(where, self.cfg))
        if problem is not None:
            return Fate(Status.INVALID, Cause.INTEGRITY, problem)
        seed = self.cfg.run.seed
        res, broke = self._run(exp, exp.title, run_dir, seed, None if where == self.ws else where, baseline, t, "")
        t.extra.update(phase_times(res))
        if broke is not None:
            return broke
        if res.status != "ok":
            return Fate(Status.CRASH, Cause.CRASHED, f"{res.status}: {res.error}")
        bad = non_finite(res, self.objectives)
        if bad:
            return Fate(Status.CRASH, Cause.NON_FINITE, f"crash: non-finite {bad} (NaN or exploding loss)")
        return res

    def _run(self, exp: Experiment, label: str, run_dir: Path, seed: int, checkout: Path | None,
             baseline: Experiment, t: Timings, what: str) -> tuple[RunResult, Fate | None]:
        """Every run of an experiment (its first, a busy machine's re-run, a marginal win's re-run): run it,
        add its seed, and check it as any other (`run_problem`); the Fate when it broke a rule."""
        tr = time.monotonic()
        res = self.run_with_seed(exp, label, run_dir, seed, checkout)
        t.run += time.monotonic() - tr
        exp.seeds.append(seed_record(res, seed, self.ws, self.objectives))
        return res, run_problem(res, checkout or self.ws, baseline.frozen, what)

    def _eps(self, baseline: Experiment) -> dict[str, float]:
        return baseline.epsilon or epsilons(self.cfg.objectives, {}, self.cfg.keep.min_epsilon)

    def _finish(self, exp: Experiment, baseline: Experiment, decision: Decision, cause: Cause) -> Fate:
        exp.collapse = decision.collapse
        mark_collapses(exp.seeds, self.cfg.objectives, baseline.metrics)
        reason = decision.reason
        still = load_skew(exp.seeds[-1].aux, reference([b.aux for b in baseline.seeds]), self.cfg.run.load_tolerance)
        if still is not None:  # judged, but the reader is told the figures came from a busy machine
            reason += f" [{still}]"
        return Fate(decision.status.final_status, cause, reason)

    def _paired(self, exp: Experiment, parent: Experiment, decision: Decision) -> Decision:
        """keep.test = "paired" or "paired-all": confirm a keep against its parent on the same validation
        images: against the parent's first seed, or against each of its seeds."""
        mine = next((s.run_dir for s in exp.seeds if s.ok), "")
        theirs = [s for s in parent.seeds if s.ok and s.run_dir]
        theirs = theirs if self.cfg.keep.test == "paired-all" else theirs[:1]
        found = [(s.seed, compare_runs(self.ws / mine, self.ws / s.run_dir, self.objectives,
                                       level=self.cfg.keep.paired_level)) for s in theirs] if mine else []
        found = [(seed, f) for seed, f in found if f]
        if not found:
            return Decision(decision.status, decision.reason + " (no per-image evidence to pair)", decision.collapse)
        text = " | ".join((f"seed {seed}: " if len(found) > 1 else "")
                          + "; ".join(iv.text(self.cfg.objective(name).display()) for name, iv in f.items())
                          for seed, f in found)
        better, worse = keep.paired_verdict(self.cfg.objectives, [f for _, f in found])
        if worse:
            return Decision(Verdict.DISCARD, f"worse than its parent {parent.id} on the same images: {text}")
        if not better:
            against = "every seed of its parent" if len(found) > 1 else "its parent"
            return Decision(Verdict.DISCARD, f"not surely better than {against} {parent.id} on the same images: {text}")
        return Decision(Verdict.KEEP, f"{decision.reason}; paired vs {parent.id}: {text}", decision.collapse)

    def _weak_keep(self, exp: Experiment, parent: Experiment, baseline: Experiment, kept: list[Experiment],
                   decision: Decision, weak: dict[str, str]) -> Decision:
        """A keep judged where the baseline is too weak to judge (keep.weak_objectives): an objective counts
        only when the per-image evidence against the parent says it is surely better; otherwise the keep is
        judged again as if the candidate had the parent's value there."""
        mine = next((s.run_dir for s in exp.seeds if s.ok and s.run_dir), "")
        theirs = next((s.run_dir for s in parent.seeds if s.ok and s.run_dir), "")
        found = compare_runs(self.ws / mine, self.ws / theirs, list(weak), level=self.cfg.keep.paired_level) \
            if mine and theirs else {}
        better, _ = keep.paired_verdict([o for o in self.cfg.objectives if o.name in weak], [found] if found else [])
        evidence = "; ".join(iv.text(self.cfg.objective(n).display()) for n, iv in found.items()) or "no per-image counts"
        unsure = [n for n in weak if n not in better]
        if not unsure:
            return Decision(Verdict.KEEP, f"{decision.reason}; surely better per image where the baseline is weak: "
                                          f"{evidence}", decision.collapse)
        ok = [s for s in exp.seeds if s.ok]
        metrics = {**mean_metrics([s.metrics for s in ok]), **{n: parent.metrics[n] for n in unsure if n in parent.metrics}}
        again = keep.decide(self.cfg, metrics, [k.metrics for k in kept], baseline.metrics, self._eps(baseline),
                            aux=mean_metrics([s.aux for s in ok]), baseline_aux=baseline.aux, allow_rerun=False)
        why = "; ".join(f"{n} {weak[n]}" for n in unsure)
        if again.status is Verdict.KEEP:
            return Decision(Verdict.KEEP, f"{again.reason} ({', '.join(unsure)} not counted: the baseline is too weak "
                                          f"to judge on it: {why})", decision.collapse)
        return Decision(Verdict.DISCARD, f"its win is on {', '.join(unsure)}, where the baseline is too weak to judge "
                                         f"({why}), and the per-image evidence is not surely better ({evidence})")

    def _load_skew(self, exp: Experiment, baseline: Experiment, run_dir: Path, t: Timings,
                   checkout: Path | None = None) -> str | Fate | None:
        """Re-run once, same seed, a time-budget run that a busy machine slowed (see results.throughput),
        or an images-budget run that the time cap cut short of its images: the skew, or the re-run's
        Fate when it broke a rule (`_run`).

        Under an images budget a run that trained all its images did equal work, so it is judged as
        it is (and marked).
        """
        first = exp.seeds[-1]
        ref = reference([b.aux for b in baseline.seeds])
        skew = load_skew(first.aux, ref, self.cfg.run.load_tolerance)
        if skew is None or (self.cfg.run.budget != "time" and short_of_images(first.aux) is None):
            return None
        first.load_skew = LoadSkew(skew, dict(ref), self.cfg.run.load_tolerance)
        self.ui.say(f"{exp.id}: {skew}; running it again")
        _, broke = self._run(exp, exp.title + " (re-run: busy machine)", run_dir / "rerun-load", first.seed, checkout,
                             baseline, t, "re-run after a busy machine: ")
        return broke or skew

    def _decide(self, exp: Experiment, baseline: Experiment, kept: list[Experiment], eps: dict[str, float],
                allow_rerun: bool) -> Decision:
        ok = [s for s in exp.seeds if s.ok]
        return keep.decide(self.cfg, mean_metrics([s.metrics for s in ok]), [k.metrics for k in kept],
                           baseline.metrics, eps, aux=mean_metrics([s.aux for s in ok]),
                           baseline_aux=baseline.aux, allow_rerun=allow_rerun)


def run_problem(res: RunResult, where: Path, frozen: dict[str, str] | None, what: str = "") -> Fate | None:
    """The checks every run gets, a baseline seed's too: the tracked files it ran from unchanged, its frozen
    inputs those of the baseline (`frozen`), and the harness's rules kept; the invalid Fate when one fails."""
    problem = integrity.worktree_problem(Git(where)) or integrity.fingerprint_problem(frozen, frozen_of(res))
    if problem is not None:
        return Fate(Status.INVALID, Cause.INTEGRITY, f"{what}{problem}")
    if res.status == "invalid":  # it broke the harness's rules: over budget, changed the data, too much output
        return Fate(Status.INVALID, Cause.HARNESS_RULES, f"{what}{res.error}")
    return None
