"""The loop with several experiments in flight: Ray runs them, each in its own git worktree; verdicts stay serial.

A parallel night, in order:
- the main thread asks the proposer for a hypothesis, showing it the experiments in flight as
  pending; checks the edit in a free slot's worktree checked out at the parent commit; commits there; writes
  the start line; and hands the experiment to a thread that waits on its runs (`Trial.measure`:
  the first run, and the re-run of a marginal win, each a Ray task);
- a measured experiment joins a queue; the main thread takes them in arrival order and judges each
  against the front as it stands when it arrives (`Trial.verdict`); a keep is tagged gg/TAG/ID and
  becomes the tip of autoresearch/TAG whatever its parent was; the end line is written and the
  slot is free for the next experiment.

So the branch points at the latest keep in arrival order, which need not descend from the keep
before it (two runs started from the same parent can both be kept): the branch is a pointer, not
a linear history. The front is the set of tags gg/TAG/*, and a hypothesis may name any member as
its parent (`Hypothesis.parent`); without one it starts from the branch tip.

A kill -9 of the loop leaves start lines without end lines: the next `loop` with the same tag
records each as interrupted (loop.resume) and removes the worktrees left behind. Ctrl-C or SIGTERM
cancels the runs in flight and records them as interrupted at once.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from gg_research.config import Config
from gg_research.errors import GGError
from gg_research.harness.runner import RunResult
from gg_research.loop.apply import Applied, write_files
from gg_research.loop.cycle import Refusal, check_proposal
from gg_research.loop.engine import STOPPED, LoopEngine, Options, ProposerFactory, baseline_dir
from gg_research.loop.errors import LoopSetupError, ProposerExhausted
from gg_research.loop.git import Git
from gg_research.loop.hypothesis import Hypothesis
from gg_research.loop.records import hypothesis_record, rel
from gg_research.loop.state import LoopState
from gg_research.loop.trial import Measured, Timings
from gg_research.loop.ui import LoopUI
from gg_research.loop.workers import RayPool
from gg_research.loop.worktrees import Worktrees
from gg_research.results.ledger import Experiment, Status
from gg_research.results.lifecycle import Cause, Fate

LOST = "the loop's thread waiting on this run failed"


class ParallelUI(LoopUI):
    """Runs start on workers side by side: a line each instead of one live progress line."""

    def start(self, exp_id: str, text: str, budget_s: float) -> None:
        self.say(f"{exp_id} started: {text[:70]} (budget {budget_s:g} s)")

    def stop(self) -> None:
        pass


@dataclass
class Flight:
    """An experiment in flight: committed in its worktree, its runs going on a worker."""

    exp: Experiment
    parent: Experiment
    slot: int
    checkout: Path
    run_dir: Path
    t: Timings
    measured: Measured | Fate | None = None
    error: BaseException | None = None


class ParallelEngine(LoopEngine):
    """The loop with `workers` experiments in flight (see the module's docstring for the order of a night)."""

    def __init__(self, workspace: Path, config: Config, options: Options, proposer_factory: ProposerFactory,
                 workers: int, ui: LoopUI | None = None, pool: RayPool | None = None) -> None:
        if workers < 2:
            raise LoopSetupError(f"--workers {workers}: a parallel loop needs 2 or more (1 is the serial loop)")
        ui = ui or ParallelUI()
        self.pool = pool or RayPool(config, workers, ui.say)
        super().__init__(workspace, config, options, proposer_factory, run_fn=self.pool, ui=ui)
        self.workers = workers
        # The baseline's seeds in full waves of one per worker, side by side: no slower (the
        # workers would wait), a better noise estimate, and a throughput reference measured while
        # runs share the machine as the night's will. A seed run alone (3 seeds on 2 workers) sets
        # the reference, and every later run would look load-skewed and be run twice.
        self.baseline_seeds = -(-self.baseline_seeds // workers) * workers
        self.cfg = self.trial.cfg = self.cfg.model_copy(
            update={"keep": self.cfg.keep.model_copy(update={"baseline_seeds": self.baseline_seeds})})
        self.worktrees = Worktrees(self.git, self.ws, config, self.tag)
        self.flights: dict[str, Flight] = {}
        self._arrived: queue.Queue[Flight] = queue.Queue()
        self._front: list[Experiment] = []  # the kept runs as the threads may read them (replaced, never mutated)
        self._exhausted: str | None = None

    # -- the night -----------------------------------------------------------------------------------
    def _run_locked(self) -> int:
        self.open()
        self.pool.start()
        left = self.worktrees.clear()
        if left:
            self.ui.say(f"loop {self.tag}: removed {len(left)} worktree(s) left by a loop that died")
        try:
            self.prepare()
            self._front = self.kept()
            while True:
                why = self._exhausted or self._stop_reason()
                while why is None and len(self.flights) < self.workers:
                    self._launch()
                    why = self._exhausted or self._stop_reason()
                if not self.flights:
                    return self._stopped(why or "nothing left to run")
                self._land(self._next_arrival())
        except BaseException:
            self._abandon()
            raise
        finally:
            self.worktrees.clear()

    def _baseline_runs(self, exp: Experiment, seeds: list[int], run_dir: Path) -> Iterator[RunResult]:
        """The baseline's seeds side by side, as many at once as there are workers (same conditions as the night's runs)."""
        results: dict[int, RunResult] = {}
        done = threading.Condition()

        def one(i: int, seed: int) -> None:
            try:
                res = self.trial.run_with_seed(exp, f"baseline {i + 1}/{len(seeds)}", baseline_dir(run_dir, seeds, seed), seed)
            except BaseException as exc:  # noqa: BLE001 - reported as this seed's crash
                res = RunResult("crash", {}, {}, run_dir, run_dir / "run.log", f"{LOST}: {type(exc).__name__}: {exc}", 0.0)
            with done:
                results[i] = res
                done.notify_all()

        started = 0
        for i in range(len(seeds)):
            with done:
                while started - len(results) >= self.workers:
                    done.wait(0.5)
            threading.Thread(target=one, args=(i, seeds[i]), daemon=True, name=f"baseline-{seeds[i]}").start()
            started += 1
        for i in range(len(seeds)):
            with done:
                while i not in results:
                    done.wait(0.5)
            yield results[i]

    # -- launching -----------------------------------------------------------------------------------
    def _launch(self) -> None:
        """Propose, check and commit one experiment in a worktree of its own, and start its runs."""
        assert self.proposer is not None
        t = Timings()
        tip = self.last_kept()
        assert tip is not None
        passages = self.grounding.passages(self._brief(), self.finished(), k=getattr(self.proposer, "passages_k", 5)) if self.proposer.wants_passages else []
        state = self._pending_state(passages)
        feedback: str | None = None
        seen = {e.content_hash for e in self.ledger.read().experiments if e.content_hash}
        slot = min(set(range(self.workers)) - {f.slot for f in self.flights.values()})
        self._done += 1  # a slot is used whether or not the proposer ends up with a valid edit
        for _ in range(self.cfg.proposer.max_refusals + 1):
            tp = time.monotonic()
            try:
                hyp = self.proposer.propose(state, feedback)
            except ProposerExhausted as exc:
                self._exhausted = str(exc)
                self._done -= 1
                return
            t.proposal += time.monotonic() - tp
            parent = self._parent_of(hyp, state) or tip
            ta = time.monotonic()
            checkout = self.worktrees.checkout(slot, parent.commit)
            checked = check_proposal(hyp, checkout, self.mutable, seen=seen, novelty=self.novelty,
                                     proposer=self.proposer, earlier=self.ledger.read().experiments)
            t.apply_commit += time.monotonic() - ta
            if isinstance(checked, Refusal):
                self._refused(hyp, parent, checked, passages)
                feedback = checked.reason
                state = self._pending_state(passages)
                continue
            self._take_off(hyp, checked, parent, slot, checkout, passages, t)
            return

    def _pending_state(self, passages: list) -> LoopState:
        state = self._state(passages)
        state.pending = [f.exp for f in self.flights.values()]
        return state

    def _take_off(self, hyp: Hypothesis, applied: Applied, parent: Experiment, slot: int, checkout: Path,
                  passages: list, t: Timings) -> None:
        assert self.proposer is not None
        ta = time.monotonic()
        write_files(checkout, applied)
        commit = Git(checkout).commit(sorted(applied.files), hyp.title)
        run_dir = self.ws / "results" / "runs" / self.ledger.next_id()
        run_dir.mkdir(parents=True, exist_ok=True)
        diff_path = run_dir / "patch.diff"
        diff_path.write_text(self.git.diff(parent.commit, commit), encoding="utf-8")
        exp = hypothesis_record(run_dir.name, self.tag, hyp, parent, proposer=self.proposer.name,
                                citations=self.grounding.resolve(hyp.citations), passages=passages,
                                commit=commit, content_hash=applied.content_hash,
                                diff=rel(self.ws, diff_path), log=rel(self.ws, run_dir / "run.log"))
        self.ledger.start(exp)
        t.apply_commit += time.monotonic() - ta
        flight = Flight(exp, parent, slot, checkout, run_dir, t)
        self.flights[exp.id] = flight
        threading.Thread(target=self._measure, args=(flight,), daemon=True, name=f"flight-{exp.id}").start()

    def _measure(self, flight: Flight) -> None:
        """In the flight's thread: every run the experiment needs; then it joins the arrivals."""
        base = self.baseline()
        try:
            assert base is not None
            flight.measured = self.trial.measure(flight.exp, flight.parent, base, lambda: self._front,
                                                 flight.run_dir, flight.t, flight.checkout)
        except BaseException as exc:  # noqa: BLE001 - the main thread records it
            flight.error = exc
        finally:
            self._arrived.put(flight)

    # -- landing -------------------------------------------------------------------------------------
    def _next_arrival(self) -> Flight:
        while True:  # a timeout, so Ctrl-C reaches the main thread while it waits
            try:
                return self._arrived.get(timeout=0.5)
            except queue.Empty:
                continue

    def _land(self, flight: Flight) -> None:
        """The verdict on an arrived experiment against the front as it stands now; tag, tip, end line."""
        exp = flight.exp
        if self.flights.pop(exp.id, None) is None:
            return  # recorded already (interrupted)
        td = time.monotonic()
        if flight.error is not None or flight.measured is None:
            fate = Fate(Status.CRASH, Cause.RUN_LOST, f"{LOST}: {type(flight.error).__name__}: {flight.error}")
        elif isinstance(flight.measured, Fate):
            fate = flight.measured
        else:
            base = self.baseline()
            assert base is not None
            fate = self.trial.verdict(exp, flight.parent, base, self.kept(), flight.measured, flight.t)
        if fate.status is Status.KEEP:
            self.git.tag(f"gg/{self.tag}/{exp.id}", exp.commit)
            self.git.reset_hard(exp.commit)  # the newest keep is the tip, whichever kept run it started from
        flight.t.decision += time.monotonic() - td
        self._end(exp, fate)
        self._front = self.kept()
        self.timings.append(flight.t)

    def _abandon(self) -> None:
        """Ctrl-C, SIGTERM or an error: stop the runs in flight and record each as interrupted."""
        self.pool.cancel_all()
        for exp_id, flight in list(self.flights.items()):
            self.flights.pop(exp_id, None)
            try:
                self._end(flight.exp, STOPPED)
            except (OSError, GGError) as exc:  # the ledger itself failed: resume records it later
                self.ui.say(f"{exp_id}: could not be recorded as interrupted ({exc}); the next loop will")
