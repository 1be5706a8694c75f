"""The overnight loop, serial: one experiment after another, each a cycle of the session.

propose -> check -> commit -> run -> judge -> record (loop.cycle) over one session (loop.session:
lock, branch, baseline, ledger), until a stop condition: --max-experiments, --until, a plateau,
or a proposer with nothing left. The parallel loop (loop.parallel) and an agent's step
(loop.agent) compose the same two parts.
"""

from __future__ import annotations

import time
from pathlib import Path

from gg_research.config import Config
from gg_research.loop.cycle import Cycle
from gg_research.loop.errors import ProposerExhausted
from gg_research.loop.runner import RunFn
from gg_research.loop.session import STOPPED, Options, ProposerFactory, Session, baseline_dir
from gg_research.loop.state import LoopState
from gg_research.loop.trial import Timings
from gg_research.loop.ui import LoopUI
from gg_research.results.ledger import Experiment

__all__ = ["STOPPED", "LoopEngine", "Options", "ProposerFactory", "baseline_dir"]


class LoopEngine:
    """The serial loop over one workspace and tag."""

    def __init__(self, workspace: Path, config: Config, options: Options, proposer_factory: ProposerFactory,
                 run_fn: RunFn | None = None, ui: LoopUI | None = None) -> None:
        self.session = Session(workspace, config, options, run_fn=run_fn, ui=ui)
        self.cycle = Cycle(self.session)
        self.proposer_factory = proposer_factory
        self.timings: list[Timings] = []
        self._done = 0

    def run(self) -> int:
        return self.session.guarded(self._night)

    def _night(self) -> int:
        s = self.session
        s.open(self.proposer_factory)
        s.prepare()
        while True:
            why = s.stop_reason(self._done)
            if why:
                return s.stopped(why)
            try:
                self._experiment()
            except ProposerExhausted as exc:
                return s.stopped(str(exc))

    def _experiment(self) -> None:
        s = self.session
        assert s.proposer is not None
        t = Timings()
        t0 = time.monotonic()
        home = s.last_kept()
        assert home is not None
        s.git.reset_hard(home.commit)
        passages = s.passages()

        def at(commit: str) -> None:
            if s.git.head() != commit:
                s.git.reset_hard(commit)

        def state() -> LoopState:
            at(home.commit)  # a refused proposal may have started from another kept run
            return s.state(passages)

        def checkout(parent: Experiment) -> Path:
            at(parent.commit)
            return s.ws

        proposal = self.cycle.propose(s.proposer, passages, t, home=home, state=state, checkout=checkout)
        self._done += 1  # a proposer that keeps failing still uses up a slot, so the loop moves on
        if proposal is None:
            return
        self.cycle.run_here(proposal, passages, t, s.proposer.name)
        t.extra["total"] = time.monotonic() - t0
        self.timings.append(t)
