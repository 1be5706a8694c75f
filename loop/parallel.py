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
from gg_research.harness.runner import RunResult
from gg_research.loop.cycle import Committed, Cycle
from gg_research.loop.errors import LoopSetupError, ProposerExhausted
from gg_research.loop.session import Options, ProposerFactory, Session, baseline_dir
from gg_research.loop.state import LoopState
from gg_research.loop.trial import Measured, Timings
from gg_research.loop.ui import LoopUI
from gg_research.loop.workers import RayPool
from gg_research.loop.worktrees import Worktrees
from gg_research.results.ledger import Experiment
from gg_research.results.lifecycle import Cause, Fate, Status
from gg_research.workspace_map import RunFolder

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

    done: Committed
    slot: int
    t: Timings
    measured: Measured | Fate | None = None
    error: BaseException | None = None

    @property
    def exp(self) -> Experiment:
        return self.done.exp


class ParallelEngine:
    """The loop with `workers` experiments in flight (see the module's docstring for the order of a night)."""

    def __init__(self, workspace: Path, config: Config, options: Options, proposer_factory: ProposerFactory,
                 workers: int, ui: LoopUI | None = None, pool: RayPool | None = None) -> None:
        if workers < 2:
            raise LoopSetupError(f"--workers {workers}: a parallel loop needs 2 or more (1 is the serial loop)")
        ui = ui or ParallelUI()
        self.pool = pool or RayPool(config, workers, ui.say)
        # The baseline's seeds in full waves of one per worker, side by side: no slower (the
        # workers would wait), a better noise estimate, and a throughput reference measured while
        # runs share the machine as the night's will. A seed run alone (3 seeds on 2 workers) sets
        # the reference, and every later run would look load-skewed and be run twice.
        seeds = -(-config.keep.baseline_seeds // workers) * workers
        config = config.model_copy(update={"keep": config.keep.model_copy(update={"baseline_seeds": seeds})})
        self.session = Session(workspace, config, options, run_fn=self.pool, ui=ui)
        self.cycle = Cycle(self.session)
        self.proposer_factory = proposer_factory
        self.workers = workers
        self.worktrees = Worktrees(self.session.git, self.session.ws, config, self.session.tag)
        self.flights: dict[str, Flight] = {}
        self.timings: list[Timings] = []
        self._done = 0
        self._arrived: queue.Queue[Flight] = queue.Queue()
        self._front: list[Experiment] = []  # the kept runs as the threads may read them (replaced, never mutated)
        self._exhausted: str | None = None

    # -- the night -----------------------------------------------------------------------------------
    def run(self) -> int:
        return self.session.guarded(self._night)

    def _night(self) -> int:
        s = self.session
        s.open(self.proposer_factory)
        self.pool.start()
        left = self.worktrees.clear()
        if left:
            s.ui.say(f"loop {s.tag}: removed {len(left)} worktree(s) left by a loop that died")
        try:
            s.prepare(self._baseline_side_by_side)
            self._front = s.kept()
            while True:
                why = self._exhausted or s.stop_reason(self._done)
                while why is None and len(self.flights) < self.workers:
                    self._launch()
                    why = self._exhausted or s.stop_reason(self._done)
                if not self.flights:
                    return s.stopped(why or "nothing left to run")
                self._land(self._next_arrival())
        except BaseException:
            self._abandon()
            raise
        finally:
            self.worktrees.clear()

    def _baseline_side_by_side(self, exp: Experiment, seeds: list[int], run_dir: Path) -> Iterator[RunResult]:
        """The baseline's seeds side by side, as many at once as there are workers (same conditions as the night's runs)."""
        results: dict[int, RunResult] = {}
        done = threading.Condition()

        def one(i: int, seed: int) -> None:
            try:
                res = self.session.trial.run_with_seed(exp, f"baseline {i + 1}/{len(seeds)}",
                                                       baseline_dir(run_dir, seeds, seed), seed)
            except BaseException as exc:  # noqa: BLE001 - reported as this seed's crash
                res = RunResult("crash", {}, {}, run_dir, RunFolder(run_dir).log, f"{LOST}: {type(exc).__name__}: {exc}", 0.0)
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
        s = self.session
        assert s.proposer is not None
        t = Timings()
        tip = s.last_kept()
        assert tip is not None
        passages = s.passages()
        slot = min(set(range(self.workers)) - {f.slot for f in self.flights.values()})
        self._done += 1  # a slot is used whether or not the proposer ends up with a valid edit

        def state() -> LoopState:
            return s.state(passages, pending=[f.exp for f in self.flights.values()])

        try:
            proposal = self.cycle.propose(s.proposer, passages, t, home=tip, state=state,
                                          checkout=lambda parent: self.worktrees.checkout(slot, parent.commit))
        except ProposerExhausted as exc:
            self._exhausted = str(exc)
            self._done -= 1
            return
        if proposal is None:
            return
        flight = Flight(self.cycle.commit(proposal, passages, t, s.proposer.name), slot, t)
        self.flights[flight.exp.id] = flight
        threading.Thread(target=self._measure, args=(flight,), daemon=True, name=f"flight-{flight.exp.id}").start()

    def _measure(self, flight: Flight) -> None:
        """In the flight's thread: every run the experiment needs; then it joins the arrivals."""
        base = self.session.baseline()
        done = flight.done
        try:
            assert base is not None
            flight.measured = self.session.trial.measure(done.exp, done.parent, base, lambda: self._front,
                                                         done.run_dir, flight.t, done.where)
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
        s, exp = self.session, flight.exp
        if self.flights.pop(exp.id, None) is None:
            return  # recorded already (interrupted)
        td = time.monotonic()
        if flight.error is not None or flight.measured is None:
            fate = Fate(Status.CRASH, Cause.RUN_LOST, f"{LOST}: {type(flight.error).__name__}: {flight.error}")
        elif isinstance(flight.measured, Fate):
            fate = flight.measured
        else:
            base = s.baseline()
            assert base is not None
            fate = s.trial.verdict(exp, flight.done.parent, base, s.kept(), flight.measured, flight.t)
        self.cycle.land(exp, fate, home=None)
        flight.t.decision += time.monotonic() - td
        self._front = s.kept()
        self.timings.append(flight.t)

    def _abandon(self) -> None:
        """Ctrl-C, SIGTERM or an error: stop the runs in flight. The session records each as interrupted
        (Session.wind_down, the one clean-up of every driver), once, whatever was recorded already."""
        self.pool.cancel_all()
        self.flights.clear()
