"""One tag's work in one workspace: the lock, the branch, the baseline, the ledger, and where an experiment ends.

Every driver (the serial loop, loop.engine; the parallel loop, loop.parallel; an agent's step,
loop.agent) opens a Session and runs its experiments through a Cycle (loop.cycle); the session
holds what they share: this tag's records, the branch set up or resumed, the baseline measured
once, and `end`, through which every experiment's fate is settled (results.lifecycle) and
recorded (ledger, screen, proposer, report, trackers).
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from gg_research.config import Config
from gg_research.errors import GGError
from gg_research.harness.runner import RunResult
from gg_research.loop import integrity, keep
from gg_research.loop.apply import content_hash, mutable_contents
from gg_research.loop.errors import LoopAborted, LoopSetupError
from gg_research.loop.git import Git
from gg_research.loop.grounding import Grounding
from gg_research.loop.lock import LoopLock
from gg_research.loop.novelty import NoveltyCheck
from gg_research.loop.proposers.base import Proposer, ProposerContext
from gg_research.loop.records import (baseline_record, drop_weights, frozen_of, mark_collapses, non_finite, rel, seed_record,
                                      set_means)
from gg_research.loop.resume import clean_after_interrupt, prepare_branch, reconcile_keep_tags, start_of_new_tag
from gg_research.loop.runner import RunFn, close_run_fn, default_run_fn
from gg_research.loop.state import LoopState
from gg_research.loop.steering import read_brief, read_notes
from gg_research.loop.trial import Trial, run_problem
from gg_research.loop.ui import LoopUI
from gg_research.results.journal import current_plateau, imported_history, night_cost, usage_text
from gg_research.results.ledger import Experiment, LedgerFile, Status
from gg_research.results.lifecycle import Cause, Fate, settle
from gg_research.results.paired import load_counts
from gg_research.results.pareto import sigmas
from gg_research.results.throughput import short_of_images
from gg_research.workspace_map import WorkspaceMap, branch, keep_tag

ProposerFactory = Callable[[ProposerContext], Proposer]
# The baseline's runs, one result per seed in order: a serial loop runs them one after another, a
# parallel one side by side.
BaselineRuns = Callable[[Experiment, list[int], Path], Iterator[RunResult]]
STOPPED = Fate(Status.INTERRUPTED, Cause.STOPPED, "stopped by the user (Ctrl-C)")


@dataclass
class Options:
    """How a night runs and ends (the budget and the seeds are the config's: commands set them there)."""

    tag: str
    max_experiments: int | None = None
    until: datetime | None = None
    write_report: bool = True
    stop_after_plateau: int | None = None  # end the night after this many experiments without a keep
    from_tag: str | None = None  # a new tag starts from this tag's front
    follow_head: bool = False  # a new tag starts at HEAD whatever is checked out (an agent's edit is against it)


class Session:
    """One tag of one workspace (see the module's docstring)."""

    def __init__(self, workspace: Path, config: Config, options: Options, *, run_fn: RunFn | None = None,
                 ui: LoopUI | None = None) -> None:
        self.ws = Path(workspace).resolve()
        self.cfg = config
        self.opt = options
        self.tag = options.tag
        self.branch = branch(options.tag)
        self.git = Git(self.ws)
        self.ledger = LedgerFile(self.ws, [o.name for o in config.objectives])
        self.ui = ui or LoopUI()
        self.mutable = list(config.workspace.mutable)
        self.trial = Trial(self.ws, config, self.git, run_fn or default_run_fn(config), self.ui)
        self.grounding = Grounding(self.ws, config, self.ui.say)
        self.novelty = NoveltyCheck(config, self.grounding.embedder, self.ui.say)
        self.proposer: Proposer | None = None  # an agent's step has none: the agent is the proposer
        self._in_flight: dict[str, Experiment] = {}  # started in the ledger, not yet ended (a parallel loop: several)
        self._export_failed: set[str] = set()

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

    def seen_hashes(self) -> set[str]:
        """The content hashes of every experiment of the ledger: a repeated diff is refused."""
        return {e.content_hash for e in self.ledger.read().experiments if e.content_hash}

    # -- the lock and the clean-up ----------------------------------------------------------------
    def guarded(self, body: Callable[[], int]) -> int:
        """Run `body` under the workspace lock; SIGTERM and Ctrl-C record the running experiment and reset the branch."""
        previous = None
        try:
            previous = signal.signal(signal.SIGTERM, _sigterm_to_interrupt)
        except ValueError:  # not the main thread (tests and the MCP server drive the engine from threads)
            pass
        try:
            with LoopLock(self.ws):
                return body()
        except KeyboardInterrupt:
            try:
                done = self.wind_down(STOPPED)
            except (OSError, GGError) as exc:  # the ledger itself cannot be written: resume records it
                done = f"the running experiment(s) could not be recorded ({exc}); the next loop will"
            self.ui.say(f"loop interrupted: {done}")
            return 130
        except OSError as exc:  # disk full, a read-only ledger, ...: leave things as Ctrl-C would
            raise LoopAborted(self._abort(exc)) from exc
        except Exception as exc:  # a bug or a failing tool: the experiments in flight are not left running
            if self._in_flight:
                try:
                    self.wind_down(Fate(Status.INTERRUPTED, Cause.LOOP_ERROR,
                                        f"the loop stopped on an error: {type(exc).__name__}: {exc}"), reset=False)
                except (OSError, GGError):
                    pass  # resume records them
            raise
        finally:
            close_run_fn(self.trial.run_fn)
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)

    def _abort(self, exc: OSError) -> str:
        """Record the experiments in flight as interrupted and reset the branch; the one line to say."""
        what = f"{exc.filename or self.ws}: {exc.strerror or exc}"
        resume = f"fix that, then 'gg-research loop --tag {self.tag}' resumes"
        try:
            done = self.wind_down(Fate(Status.INTERRUPTED, Cause.LOOP_ERROR, f"the loop stopped on an error: {what}"))
        except (OSError, GGError) as again:  # the ledger itself cannot be written: resume repairs it
            return f"{what}; the loop stopped and could not record it ({again}); {resume}"
        return f"{what}; the loop stopped ({done}); {resume}"

    def wind_down(self, fate: Fate, *, reset: bool = True) -> str:
        """The clean-up of an interrupted session (Ctrl-C, SIGTERM, an error): what it did, as a clause.

        Every experiment still in flight ends with `fate` unless the ledger already holds its end (the
        interrupt came after its end line): the ledger, not this session's memory, says what is recorded,
        so nothing ends twice. Then the keep tags are made to agree with the ledger (a tag made just
        before an end line that never came is deleted), and, with `reset`, the branch goes back to the
        latest kept commit when an experiment was in flight (or the loop was writing edits).
        """
        flying, self._in_flight = list(self._in_flight.values()), {}
        on_file = {e.id: e for e in self.ledger.read().experiments}
        said: list[str] = []
        for exp in flying:
            found = on_file.get(exp.id)
            if found is None or found.status.final:
                said.append(f"{exp.id} was recorded already" if found is not None else f"{exp.id} has no start line")
                continue
            found.seeds = exp.seeds  # its runs so far, on the ledger's record (which says it is still running)
            settle(found, fate)
            set_means(found)
            drop_weights(self.ws, found)
            self.ledger.end(found)
            said.append(f"{exp.id} recorded as {fate.status.value}")
        try:
            self.ledger.repair_tsv()
        except OSError:
            said.append("results.tsv lacks a row (resume adds it)")
        reconcile_keep_tags(self.git, self.tag, self.records())
        if reset:
            clean_after_interrupt(self.git, self.ws, self.tag, self.branch, self.last_kept(), always=bool(flying))
            said.append("branch reset to the latest kept commit" if flying else "nothing was running")
        return "; ".join(said)

    # -- opening: the workspace, the proposer, the branch, the baseline ----------------------------
    def open(self, proposer_factory: ProposerFactory | None) -> None:
        """Check the workspace, say what is wrong with the ledger, and build the proposer (when there is one)."""
        if not self.git.is_repo():
            raise LoopSetupError(f"{self.ws}: not a git repository (make the workspace with 'gg-research init')")
        for warning in self.ledger.read().warnings:
            self.ui.say(f"ledger: {warning}")
        if proposer_factory is not None:
            # The proposer first: a bad script or search space is refused before any branch is made.
            self.proposer = proposer_factory(ProposerContext(self.ws, self.cfg, self.tag, self.records(),
                                                             self.grounding, self.ui.say))

    def prepare(self, baseline_runs: BaselineRuns | None = None) -> None:
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
            self._measure_baseline(baseline_runs or self._baseline_one_by_one)
        base = self.baseline()
        if base is not None:
            self._warn_of_baseline(base)

    def _warn_of_baseline(self, base: Experiment) -> None:
        notice = keep.weak_baseline_notice(self.cfg.objectives, [s.metrics for s in base.seeds if s.ok],
                                           self.cfg.run.budget)
        if notice:
            self.ui.say(f"warning: {notice}")
        short = [f"seed {s.seed}: {why}" for s in base.seeds if s.ok and (why := short_of_images(s.aux)) is not None]
        if short:  # the baseline did less work than the night's runs will be asked to
            self.ui.say(f"warning: the baseline did not train its images budget ({'; '.join(short)}): raise "
                        f"[run] budget_s (the time cap) or lower budget_images, then a new tag")

    def _measure_baseline(self, runs: BaselineRuns) -> None:
        n = self.cfg.keep.baseline_seeds
        commit = self.git.head()
        folder = WorkspaceMap(self.ws).run(self.ledger.next_id())
        run_dir = folder.path
        exp = baseline_record(run_dir.name, self.tag, commit,
                              content_hash=content_hash(mutable_contents(self.ws, self.mutable)),
                              log=rel(self.ws, folder.log), frozen=integrity.frozen_fingerprint(self.ws, self.cfg))
        self.start(exp)
        objectives = [o.name for o in self.cfg.objectives]
        seeds = [self.cfg.run.seed + i for i in range(n)]
        res: RunResult | None = None
        # A Ctrl-C here ends the baseline as any other experiment in flight (Session.wind_down).
        for seed, res in zip(seeds, runs(exp, seeds, run_dir)):
            exp.seeds.append(seed_record(res, seed, self.ws, objectives))
            bad = non_finite(res, objectives)  # ok, but a NaN or missing objective
            broke = run_problem(res, self.ws, exp.frozen, f"baseline seed {seed}: ")  # the checks of every run
            if broke is not None or res.status != "ok" or bad:
                reason = f"baseline seed {seed} {res.status if not bad else 'crash'}: {res.error or 'non-finite ' + bad}"
                fate = broke or Fate(Status.CRASH, Cause.NON_FINITE if bad else Cause.CRASHED, reason)
                self.end(exp, fate)
                raise LoopSetupError(f"{rel(self.ws, res.log_path)}: {fate.detail}; fix train.py or the config and run again")
        # The harness's fingerprint of what it measured, beside the loop's own (the judging code).
        exp.frozen = {**(exp.frozen or {}), **((frozen_of(res) if res is not None else None) or {})} or None
        mark_collapses(exp.seeds, self.cfg.objectives)  # a bistable target shows in the report
        exp.sigma = sigmas([s.metrics for s in exp.seeds], objectives)
        pairable = all(s.run_dir and load_counts(self.ws / s.run_dir) is not None for s in exp.seeds)
        exp.epsilon = keep.margins(self.cfg, exp.sigma, pairable=pairable)
        self.git.tag(keep_tag(self.tag, exp.id), commit)
        unpaired = "" if pairable or self.cfg.keep.test == "margin" else \
            f" (the runs left no per-image counts: keep.test = {self.cfg.keep.test} cannot pair, eps stays 2 sigma)"
        self.end(exp, Fate(Status.BASELINE, Cause.MEASURED,
                           f"{n} seed(s); eps " + ", ".join(f"{k} {v:.4f}" for k, v in exp.epsilon.items()) + unpaired))

    def _baseline_one_by_one(self, exp: Experiment, seeds: list[int], run_dir: Path) -> Iterator[RunResult]:
        """The baseline's runs, one seed after another (the first in `run_dir`, the rest in seed folders)."""
        for i, seed in enumerate(seeds):
            yield self.trial.run_with_seed(exp, f"baseline {i + 1}/{len(seeds)}", baseline_dir(run_dir, seeds, seed), seed)

    # -- what a proposer sees ----------------------------------------------------------------------
    def state(self, passages: list[Any], pending: list[Experiment] | None = None) -> LoopState:
        base = self.baseline()
        return LoopState(workspace=self.ws, tag=self.tag, config=self.cfg, brief=self.brief(),
                         files=mutable_contents(self.ws, self.mutable), records=self.finished(),
                         eps=dict(base.epsilon) if base else {}, passages=passages, notes=read_notes(self.ws),
                         history=imported_history(self.ledger.read().experiments), pending=list(pending or []))

    def brief(self) -> str:
        # Read at every experiment, but after the reset to the kept commit: an uncommitted edit is
        # gone by then (and one made during a run invalidates it), so a night is steered by notes.
        return read_brief(self.ws, self.cfg)

    def passages(self) -> list[Any]:
        """The knowledge base's passages for the next proposal, when the proposer reads them."""
        if self.proposer is None or not self.proposer.wants_passages:
            return []
        return self.grounding.passages(self.brief(), self.finished(), k=self.proposer.passages_k)

    # -- the night's end conditions ----------------------------------------------------------------
    def stop_reason(self, done: int) -> str | None:
        """Why the night stops before its next experiment (`done` started so far), or None."""
        budget = self.cfg.run.budget_s
        if self.opt.max_experiments is not None and done >= self.opt.max_experiments:
            return f"{done} experiments done (--max-experiments)"
        if self.opt.until is not None:
            # Do not start a run that cannot finish before the deadline.
            left = (self.opt.until - datetime.now(self.opt.until.tzinfo)).total_seconds()
            if left < budget:
                return f"--until {self.opt.until:%H:%M} reached (not enough time for another {budget:g} s run)"
        plateau = current_plateau(self.finished()) if self.opt.stop_after_plateau else None
        if plateau is not None and plateau.length >= (self.opt.stop_after_plateau or 0):
            return f"{plateau.length} experiments without a keep ({plateau.ids[0]}..{plateau.ids[-1]}; --stop-after-plateau)"
        return None

    def stopped(self, why: str) -> int:
        cost = night_cost(self.records())
        self.ui.say(f"loop stopped: {why}" + (f"; proposer cost {usage_text(cost)}" if cost.requests else ""))
        return 0

    # -- an experiment's start and end -------------------------------------------------------------
    def start(self, exp: Experiment) -> None:
        self.ledger.start(exp)
        self._in_flight[exp.id] = exp

    def end(self, exp: Experiment, fate: Fate) -> None:
        """Settle `exp` (results.lifecycle) and record it: the ledger's end line, the screen, the proposer,
        the report and the trackers. Every experiment of every driver ends here."""
        settle(exp, fate)
        set_means(exp)
        if not fate.status.kept:
            drop_weights(self.ws, exp)
        self.ledger.end(exp)
        self._in_flight.pop(exp.id, None)
        self.ui.result(exp, [o.name for o in self.cfg.objectives])
        if self.proposer is not None:
            try:
                if fate.status is Status.BASELINE:
                    self.proposer.tell_baseline(exp)
                else:
                    self.proposer.tell(exp)
            except Exception as exc:  # a proposer's bookkeeping (e.g. its SQLite study) must not stop the loop
                self.ui.say(f"{exp.id}: proposer could not record the result: {type(exc).__name__}: {exc}")
        self._report()
        self._export()

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
                if kind not in self._export_failed:
                    self._export_failed.add(kind)
                    self.ui.say(f"not exported to {kind}: {' '.join(str(exc).split())[:300]}")


def baseline_dir(run_dir: Path, seeds: list[int], seed: int) -> Path:
    """Where a baseline seed's run goes: the experiment's folder for the first, a seed folder for the rest."""
    return run_dir if seed == seeds[0] else run_dir / f"seed{seed}"


def _sigterm_to_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
