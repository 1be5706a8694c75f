"""The overnight loop: propose -> apply -> commit -> run -> decide -> keep or revert -> log.

The engine orchestrates; each step lives in its own module: `records` builds the ledger's
records, `step.Trial` runs and judges an experiment, `grounding` reaches the knowledge base,
`resume` sets up the branch and cleans up after an interrupt, `results.ledger` writes.

Its length (about 350 lines) is the order of a night, kept in one file on purpose: each step
it calls lives elsewhere, and what remains reads top to bottom as the loop does.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from gg_research.config import Config
from gg_research.loop import integrity, keep
from gg_research.errors import GGError
from gg_research.harness.runner import RunResult
from gg_research.results.throughput import short_of_images
from gg_research.loop.apply import Applied, content_hash, mutable_contents, write_files
from gg_research.loop.cycle import Refusal, check_proposal
from gg_research.loop.errors import LoopAborted, LoopSetupError, ProposerExhausted
from gg_research.loop.git import Git
from gg_research.loop.grounding import Grounding
from gg_research.loop.hypothesis import Hypothesis
from gg_research.loop.lock import LoopLock
from gg_research.loop.novelty import NoveltyCheck
from gg_research.loop.proposers.base import Proposer, ProposerContext
from gg_research.loop.records import (baseline_record, drop_weights, frozen_of, hypothesis_record, mark_collapses,
                                      non_finite, rel, seed_record, set_means)
from gg_research.loop.resume import applying_marker, clean_after_interrupt, prepare_branch, start_of_new_tag
from gg_research.loop.runner import RunFn, close_run_fn, default_run_fn
from gg_research.loop.state import LoopState
from gg_research.loop.steering import read_brief, read_notes
from gg_research.loop.trial import Timings, Trial
from gg_research.loop.ui import LoopUI
from gg_research.results.journal import current_plateau, imported_history, night_cost, usage_text
from gg_research.results.ledger import Experiment, LedgerFile, Status
from gg_research.results.lifecycle import Cause, Fate, settle
from gg_research.results.paired import load_counts
from gg_research.results.pareto import sigmas

ProposerFactory = Callable[[ProposerContext], Proposer]
STOPPED = Fate(Status.INTERRUPTED, Cause.STOPPED, "stopped by the user (Ctrl-C)")


@dataclass
class Options:
    tag: str
    budget_s: float | None = None
    max_experiments: int | None = None
    until: datetime | None = None
    baseline_seeds: int | None = None
    write_report: bool = True
    stop_after_plateau: int | None = None  # end the night after this many experiments without a keep
    from_tag: str | None = None  # a new tag starts from this tag's front
    follow_head: bool = False  # a new tag starts at HEAD whatever is checked out (an agent's edit is against it)


class LoopEngine:
    def __init__(self, workspace: Path, config: Config, options: Options, proposer_factory: ProposerFactory,
                 run_fn: RunFn | None = None, ui: LoopUI | None = None) -> None:
        self.ws = Path(workspace).resolve()
        self.cfg = config
        self.opt = options
        self.tag = options.tag
        self.branch = f"autoresearch/{options.tag}"
        self.git = Git(self.ws)
        self.ledger = LedgerFile(self.ws, [o.name for o in config.objectives])
        self.ui = ui or LoopUI()
        self.mutable = list(config.workspace.mutable)
        self.budget = options.budget_s if options.budget_s is not None else config.run.budget_s
        self.baseline_seeds = options.baseline_seeds or config.keep.baseline_seeds
        self.cfg = config.model_copy(update={
            "run": config.run.model_copy(update={"budget_s": self.budget}),
            "keep": config.keep.model_copy(update={"baseline_seeds": self.baseline_seeds})})
        self.trial = Trial(self.ws, self.cfg, self.git, run_fn or default_run_fn(config), self.ui)
        self.grounding = Grounding(self.ws, config, self.ui.say)
        self.novelty = NoveltyCheck(config, self.grounding.embedder, self.ui.say)
        self._proposer_factory = proposer_factory
        self.proposer: Proposer | None = None
        self.timings: list[Timings] = []
        self._done = 0
        self._in_flight: Experiment | None = None  # started in the ledger, not yet ended

    # -- this tag's records ----------------------------------------------------------------------
    def records(self) -> list[Experiment]:
        return [e for e in self.ledger.read().experiments if e.tag == self.tag]

    def finished(self) -> list[Experiment]:
        return [e for e in self.records() if e.status.final]

    def kept(self) -> list[Experiment]:
        return [e for e in self.finished() if e.status.kept]

    def last_kept(self) -> Experiment | None:
        kept = self.kept()
        return kept[-1] if kept else None

    def baseline(self) -> Experiment | None:
        return next((e for e in reversed(self.finished()) if e.status is Status.BASELINE), None)

    # -- the loop --------------------------------------------------------------------------------
    def run(self) -> int:
        return self.guarded(self._run_locked)

    def guarded(self, body: Callable[[], int]) -> int:
        """Run `body` under the workspace lock; SIGTERM and Ctrl-C record the running experiment and reset the branch.

        The loop's night and an agent's single step (loop.agent) both run through here, so they
        share one lock and one clean-up.
        """
        previous = None
        try:
            previous = signal.signal(signal.SIGTERM, _sigterm_to_interrupt)
        except ValueError:  # not the main thread (tests and the MCP server drive the engine from threads)
            pass
        try:
            with LoopLock(self.ws):
                return body()
        except KeyboardInterrupt:
            clean_after_interrupt(self.git, self.ws, self.tag, self.branch, self.last_kept())
            self.ui.say("loop interrupted: the running experiment (if any) was recorded as interrupted and the branch reset")
            return 130
        except OSError as exc:  # disk full, a read-only ledger, ...: leave things as Ctrl-C would
            raise LoopAborted(self._abort(exc)) from exc
        finally:
            close_run_fn(self.trial.run_fn)
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)

    def _abort(self, exc: OSError) -> str:
        """Record the experiment in flight as interrupted and reset the branch; the one line to say."""
        what = f"{exc.filename or self.ws}: {exc.strerror or exc}"
        resume = f"fix that, then 'gg-research loop --tag {self.tag}' resumes"
        exp, self._in_flight = self._in_flight, None
        try:
            if exp is not None:
                settle(exp, Fate(Status.INTERRUPTED, Cause.LOOP_ERROR, f"the loop stopped on an error: {what}"))
                self.ledger.end(exp)
            clean_after_interrupt(self.git, self.ws, self.tag, self.branch, self.last_kept(), always=True)
        except (OSError, GGError) as again:  # the ledger itself cannot be written: resume repairs it
            return f"{what}; the loop stopped and could not record it ({again}); {resume}"
        done = f"{exp.id} recorded as interrupted, " if exp is not None else ""
        return f"{what}; the loop stopped ({done}branch reset to the latest kept commit); {resume}"

    def _run_locked(self) -> int:
        self.open()
        self.prepare()
        while True:
            why = self._stop_reason()
            if why:
                return self._stopped(why)
            try:
                self._experiment()
            except ProposerExhausted as exc:
                return self._stopped(str(exc))

    def open(self) -> None:
        """Check the workspace, say what is wrong with the ledger, and build the proposer."""
        if not self.git.is_repo():
            raise LoopSetupError(f"{self.ws}: not a git repository (make the workspace with 'gg-research init')")
        for warning in self.ledger.read().warnings:
            self.ui.say(f"ledger: {warning}")
        # The proposer first: a bad script or search space is refused before any branch is made.
        self.proposer = self._proposer_factory(ProposerContext(self.ws, self.cfg, self.tag, self.records(),
                                                               self.grounding, self.ui.say))

    def _stopped(self, why: str) -> int:
        cost = night_cost(self.records())
        self.ui.say(f"loop stopped: {why}" + (f"; proposer cost {usage_text(cost)}" if cost.requests else ""))
        return 0

    def prepare(self) -> None:
        """Check out this tag's branch (new, or resumed after a kill) and measure the baseline if there is none."""
        start, why = None, None
        if self.records() and self.opt.from_tag is not None:
            raise LoopSetupError(f"{self.ws}: --from starts a new tag; tag {self.tag!r} has experiments already and "
                                 "resumes where it stopped (leave out --from, or use a new tag)")
        if not self.records() and not self.opt.follow_head:
            start, why = start_of_new_tag(self.git, self.tag, self.ledger.read().experiments, self.opt.from_tag)
        if why:
            self.ui.say(why)
        for line in prepare_branch(self.git, self.ledger, self.ws, self.tag, self.mutable, self.records(), start):
            self.ui.say(line)
        if self.baseline() is None:
            self._run_baseline()
        base = self.baseline()
        notice = keep.weak_baseline_notice(self.cfg.objectives, [s.metrics for s in base.seeds if s.ok],
                                           self.cfg.run.budget) if base is not None else None
        if notice:
            self.ui.say(f"warning: {notice}")
        short = [f"seed {s.seed}: {why}" for s in (base.seeds if base is not None else [])
                 if s.ok and (why := short_of_images(s.aux)) is not None]
        if short:  # the baseline did less work than the night's runs will be asked to
            self.ui.say(f"warning: the baseline did not train its images budget ({'; '.join(short)}): raise "
                        f"[run] budget_s (the time cap) or lower budget_images, then a new tag")

    def _stop_reason(self) -> str | None:
        if self.opt.max_experiments is not None and self._done >= self.opt.max_experiments:
            return f"{self._done} experiments done (--max-experiments)"
        if self.opt.until is not None:
            # Do not start a run that cannot finish before the deadline.
            left = (self.opt.until - datetime.now(self.opt.until.tzinfo)).total_seconds()
            if left < self.budget:
                return f"--until {self.opt.until:%H:%M} reached (not enough time for another {self.budget:g} s run)"
        plateau = current_plateau(self.finished()) if self.opt.stop_after_plateau else None
        if plateau is not None and plateau.length >= (self.opt.stop_after_plateau or 0):
            return f"{plateau.length} experiments without a keep ({plateau.ids[0]}..{plateau.ids[-1]}; --stop-after-plateau)"
        return None

    # -- baseline ----------------------------------------------------------------------------------
    def _run_baseline(self) -> None:
        n = self.baseline_seeds
        commit = self.git.head()
        run_dir = self.ws / "results" / "runs" / self.ledger.next_id()
        exp = baseline_record(run_dir.name, self.tag, commit,
                              content_hash=content_hash(mutable_contents(self.ws, self.mutable)),
                              log=rel(self.ws, run_dir / "run.log"),
                              frozen=integrity.frozen_fingerprint(self.ws, self.cfg))
        self._start(exp)
        objectives = [o.name for o in self.cfg.objectives]
        seeds = [self.cfg.run.seed + i for i in range(n)]
        try:
            for seed, res in zip(seeds, self._baseline_runs(exp, seeds, run_dir)):
                exp.seeds.append(seed_record(res, seed, self.ws, objectives))
                bad = non_finite(res, objectives)
                if res.status != "ok" or bad:
                    reason = f"baseline seed {seed} {res.status if not bad else 'crash'}: {res.error or 'non-finite ' + bad}"
                    self._end(exp, Fate(Status.CRASH, Cause.NON_FINITE if bad else Cause.CRASHED, reason))
                    raise LoopSetupError(f"{rel(self.ws, res.log_path)}: {reason}; fix train.py or the config and run again")
        except KeyboardInterrupt:
            self._end(exp, STOPPED)
            raise
        # The harness's fingerprint of what it measured, beside the loop's own (the judging code).
        exp.frozen = {**(exp.frozen or {}), **(frozen_of(res) or {})} or None
        mark_collapses(exp.seeds, self.cfg.objectives)  # a bistable target shows in the report
        exp.sigma = sigmas([s.metrics for s in exp.seeds], objectives)
        pairable = all(s.run_dir and load_counts(self.ws / s.run_dir) is not None for s in exp.seeds)
        exp.epsilon = keep.margins(self.cfg, exp.sigma, pairable=pairable)
        self.git.tag(f"gg/{self.tag}/{exp.id}", commit)
        unpaired = "" if pairable or self.cfg.keep.test == "margin" else \
            f" (the runs left no per-image counts: keep.test = {self.cfg.keep.test} cannot pair, eps stays 2 sigma)"
        self._end(exp, Fate(Status.BASELINE, Cause.MEASURED,
                            f"{n} seed(s); eps " + ", ".join(f"{k} {v:.4f}" for k, v in exp.epsilon.items()) + unpaired))

    def _baseline_runs(self, exp: Experiment, seeds: list[int], run_dir: Path) -> Iterator[RunResult]:
        """The baseline's runs, one seed after another (the first in `run_dir`, the rest in seed folders)."""
        for i, seed in enumerate(seeds):
            yield self.trial.run_with_seed(exp, f"baseline {i + 1}/{len(seeds)}", baseline_dir(run_dir, seeds, seed), seed)

    # -- one experiment -----------------------------------------------------------------------------
    def _state(self, passages: list) -> LoopState:
        base = self.baseline()
        return LoopState(workspace=self.ws, tag=self.tag, config=self.cfg, brief=self._brief(),
                         files=mutable_contents(self.ws, self.mutable), records=self.finished(),
                         eps=dict(base.epsilon) if base else {}, passages=passages, notes=read_notes(self.ws),
                         history=imported_history(self.ledger.read().experiments))

    def _brief(self) -> str:
        # Read at every experiment, but after the reset to the kept commit: an uncommitted edit is
        # gone by then (and one made during a run invalidates it), so a night is steered by notes.
        return read_brief(self.ws, self.cfg)

    def _experiment(self) -> None:
        assert self.proposer is not None
        t = Timings()
        t0 = time.monotonic()
        kept = self.last_kept()
        assert kept is not None
        self.git.reset_hard(kept.commit)
        passages = self.grounding.passages(self._brief(), self.finished(), k=getattr(self.proposer, "passages_k", 5)) if self.proposer.wants_passages else []
        state = self._state(passages)
        feedback: str | None = None
        earlier = self.ledger.read().experiments
        seen = {e.content_hash for e in earlier if e.content_hash}
        for _ in range(self.cfg.proposer.max_refusals + 1):
            tp = time.monotonic()
            hyp = self.proposer.propose(state, feedback)
            t.proposal += time.monotonic() - tp
            parent = self._parent_of(hyp, state) or kept
            if parent.commit != self.git.head():
                self.git.reset_hard(parent.commit)
            ta = time.monotonic()
            checked = check_proposal(hyp, self.ws, self.mutable, seen=seen, novelty=self.novelty,
                                     proposer=self.proposer, earlier=earlier)
            if isinstance(checked, Refusal):
                t.apply_commit += time.monotonic() - ta
                self._refused(hyp, parent, checked, passages)
                feedback = checked.reason
                if parent.commit != kept.commit:
                    self.git.reset_hard(kept.commit)
                state = self._state(passages)
                continue
            applied = checked
            break
        else:
            self._done += 1  # a proposer that keeps failing still uses up a slot, so the loop moves on
            return
        t.apply_commit += time.monotonic() - ta
        self.run_applied(hyp, applied, parent, passages, t, proposer=self.proposer.name)
        self._done += 1
        t.extra["total"] = time.monotonic() - t0
        self.timings.append(t)

    def run_applied(self, hyp: Hypothesis, applied: Applied, parent: Experiment, passages: list, t: Timings,
                    proposer: str) -> Experiment:
        """Commit checked edits on `parent` (checked out), run and judge them, then tag the commit or reset
        to the latest kept run; the ledger gets the start and end lines. Returns the ended record."""
        home = self.last_kept()
        assert home is not None
        ta = time.monotonic()
        marker = applying_marker(self.ws, self.tag)
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
        write_files(self.ws, applied)
        commit = self.git.commit(sorted(applied.files), hyp.title)
        run_dir = self.ws / "results" / "runs" / self.ledger.next_id()
        run_dir.mkdir(parents=True, exist_ok=True)
        diff_path = run_dir / "patch.diff"
        diff_path.write_text(self.git.diff(parent.commit, commit), encoding="utf-8")
        t.apply_commit += time.monotonic() - ta
        exp = hypothesis_record(run_dir.name, self.tag, hyp, parent, proposer=proposer,
                                citations=self.grounding.resolve(hyp.citations), passages=passages,
                                commit=commit, content_hash=applied.content_hash,
                                diff=rel(self.ws, diff_path), log=rel(self.ws, run_dir / "run.log"))
        self._start(exp)
        marker.unlink(missing_ok=True)
        try:
            fate = self.trial.judge(exp, parent, self.baseline(), self.kept(), run_dir, t)
        except KeyboardInterrupt:
            self._end(exp, STOPPED)
            self.git.reset_hard(home.commit)
            raise
        td = time.monotonic()
        if fate.status is Status.KEEP:
            self.git.tag(f"gg/{self.tag}/{exp.id}", commit)
        else:
            self.git.reset_hard(home.commit)
        self._end(exp, fate)
        t.decision += time.monotonic() - td
        return exp

    def _refused(self, hyp: Hypothesis, parent: Experiment, refusal: Refusal, passages: list) -> None:
        assert self.proposer is not None
        exp = hypothesis_record(self.ledger.next_id(), self.tag, hyp, parent, proposer=self.proposer.name,
                                citations=self.grounding.resolve(hyp.citations), passages=passages)
        self._start(exp)
        self._end(exp, refusal.fate)

    def _start(self, exp: Experiment) -> None:
        self.ledger.start(exp)
        self._in_flight = exp

    def _end(self, exp: Experiment, fate: Fate) -> None:
        """Settle `exp` (results.lifecycle) and record it: the ledger's end line, the UI, the proposer, the report."""
        settle(exp, fate)
        status = fate.status
        set_means(exp)
        if not status.kept:
            drop_weights(self.ws, exp)
        self.ledger.end(exp)
        self._in_flight = None
        self.ui.result(exp, [o.name for o in self.cfg.objectives])
        if self.proposer is not None:
            try:
                if status is Status.BASELINE:
                    self.proposer.tell_baseline(exp)
                else:
                    self.proposer.tell(exp)
            except Exception as exc:  # a proposer's bookkeeping (e.g. its SQLite study) must not stop the loop
                self.ui.say(f"{exp.id}: proposer could not record the result: {type(exc).__name__}: {exc}")
        self._report()
        self._export()

    def _parent_of(self, hyp: Hypothesis, state: LoopState) -> Experiment | None:
        if not hyp.parent:
            return None
        found = next((e for e in state.kept if e.id == hyp.parent), None)
        if found is None:
            self.ui.say(f"parent {hyp.parent} is not a kept run of this loop; starting from the latest kept one")
        return found

    def _report(self) -> None:
        if not self.opt.write_report:
            return
        from gg_research.results.report import write_report

        try:
            write_report(self.ws, self.cfg, tag=self.tag)
        except Exception as exc:  # the report is a view; a failure never stops the loop
            self.ui.say(f"report not refreshed: {type(exc).__name__}: {exc}")


    def _export(self) -> None:
        """Log the night to the trackers of [export] to as it goes (only what they do not hold yet)."""
        for kind in self.cfg.export.to:
            from gg_research.loop.export import export

            try:
                export(kind, self.ws, self.cfg, self.tag)
            except Exception as exc:  # a tracker is a view too: a failure is said (once), never stops the loop
                said = self.__dict__.setdefault("_export_failed", set())
                if kind not in said:
                    said.add(kind)
                    self.ui.say(f"not exported to {kind}: {' '.join(str(exc).split())[:300]}")


def baseline_dir(run_dir: Path, seeds: list[int], seed: int) -> Path:
    """Where a baseline seed's run goes: the experiment's folder for the first, a seed folder for the rest."""
    return run_dir if seed == seeds[0] else run_dir / f"seed{seed}"


def _sigterm_to_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
