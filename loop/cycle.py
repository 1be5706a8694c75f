"""One experiment's cycle: propose -> check -> commit -> run -> judge -> record, shared by every driver.

The serial loop (loop.engine), the parallel loop (loop.parallel) and an agent's step (loop.agent)
each open a Session (loop.session) and compose these steps; they differ only in where an edit is
checked and committed (the workspace, or a slot's worktree), when its runs are judged (at once, or
on arrival), and what a keep does to the branch.

A proposal that fails a check (novelty, the edits themselves, a repeated diff) is refused
(results.lifecycle: Status.REFUSED) with a typed cause; the reason goes back to the proposer as
its feedback, up to `[proposer] max_refusals` times.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gg_research.loop.apply import Applied, check_edits, write_files
from gg_research.loop.errors import EditRefused
from gg_research.loop.git import Git
from gg_research.loop.hypothesis import Hypothesis
from gg_research.loop.novelty import NoveltyCheck
from gg_research.loop.proposers.base import Proposer
from gg_research.loop.records import hypothesis_record, rel
from gg_research.loop.resume import applying_marker
from gg_research.loop.session import Session
from gg_research.loop.state import LoopState
from gg_research.loop.trial import Timings
from gg_research.results.ledger import Experiment
from gg_research.results.lifecycle import Cause, Fate, Status
from gg_research.workspace_map import WorkspaceMap, keep_tag

REPEATED_DIFF = "these edits give files identical to an earlier experiment's (repeated diff)"


@dataclass(frozen=True)
class Refusal:
    """A proposal refused before it ran: why (typed), and the line the proposer is told."""

    cause: Cause
    reason: str

    @property
    def fate(self) -> Fate:
        return Fate(Status.REFUSED, self.cause, f"refused: {self.reason}")


def check_proposal(hyp: Hypothesis, where: Path, mutable: list[str], *, seen: Collection[str],
                   novelty: NoveltyCheck | None = None, proposer: Proposer | None = None,
                   earlier: Sequence[Experiment] = (), current: dict[str, str] | None = None) -> Applied | Refusal:
    """The edits of `hyp` checked against the files in `where` (or `current`), or why they are refused.

    `seen`: the content hashes of earlier experiments; `novelty` and `proposer`: the novelty check,
    when the driver has a proposer (an agent's step does not).
    """
    if novelty is not None and proposer is not None:
        repeat = novelty.refusal(hyp, proposer, earlier)  # before anything is written
        if repeat:
            return Refusal(Cause.NOVELTY, repeat)
    try:
        applied = check_edits(where, hyp, mutable, current=current)
    except EditRefused as exc:
        return Refusal(Cause.BAD_EDIT, exc.reason)
    if applied.content_hash in seen:
        return Refusal(Cause.REPEATED_DIFF, REPEATED_DIFF)
    return applied


@dataclass(frozen=True)
class Proposal:
    """A hypothesis that passed the checks: its edits, and the kept run it starts from."""

    hyp: Hypothesis
    applied: Applied
    parent: Experiment
    where: Path  # the checkout its edits were checked against, and are committed in


@dataclass(frozen=True)
class Committed:
    """An experiment committed and started in the ledger; its runs go in `run_dir`."""

    exp: Experiment
    parent: Experiment
    run_dir: Path
    where: Path


class Cycle:
    """The steps of one experiment over a session (see the module's docstring)."""

    def __init__(self, session: Session) -> None:
        self.s = session

    def propose(self, proposer: Proposer, passages: list[Any], t: Timings, *, home: Experiment,
                state: Callable[[], LoopState], checkout: Callable[[Experiment], Path]) -> Proposal | None:
        """Ask `proposer` for a hypothesis until one passes the checks; None when every try was refused.

        `home` is the parent when the hypothesis names none; `checkout(parent)` gives the folder holding
        the parent's files (the workspace reset to it, or a worktree); `state()` what the proposer sees.
        Raises ProposerExhausted when the proposer has nothing left.
        """
        s = self.s
        feedback: str | None = None
        earlier = s.ledger.read().experiments
        seen = {e.content_hash for e in earlier if e.content_hash}
        now = state()
        for _ in range(s.cfg.proposer.max_refusals + 1):
            tp = time.monotonic()
            hyp = proposer.propose(now, feedback)
            t.proposal += time.monotonic() - tp
            parent = self._parent_of(hyp, now) or home
            ta = time.monotonic()
            where = checkout(parent)
            checked = check_proposal(hyp, where, s.mutable, seen=seen, novelty=s.novelty, proposer=proposer,
                                     earlier=earlier)
            t.apply_commit += time.monotonic() - ta
            if isinstance(checked, Applied):
                return Proposal(hyp, checked, parent, where)
            self.refuse(hyp, parent, checked, passages, proposer.name)
            feedback = checked.reason
            earlier = s.ledger.read().experiments
            now = state()
        return None

    def _parent_of(self, hyp: Hypothesis, state: LoopState) -> Experiment | None:
        if not hyp.parent:
            return None
        found = next((e for e in state.kept if e.id == hyp.parent), None)
        if found is None:
            self.s.ui.say(f"parent {hyp.parent} is not a kept run of this loop; starting from the latest kept one")
        return found

    def refuse(self, hyp: Hypothesis, parent: Experiment, refusal: Refusal, passages: list[Any], proposer: str) -> None:
        """Record a refused proposal: a start line and its end, no commit."""
        s = self.s
        exp = hypothesis_record(s.ledger.next_id(), s.tag, hyp, parent, proposer=proposer,
                                citations=s.grounding.resolve(hyp.citations), passages=passages)
        s.start(exp)
        s.end(exp, refusal.fate)

    def commit(self, proposal: Proposal, passages: list[Any], t: Timings, proposer: str) -> Committed:
        """Write and commit the checked edits where they were checked, make the run folder with its
        patch.diff, and write the start line."""
        s, hyp, parent = self.s, proposal.hyp, proposal.parent
        ta = time.monotonic()
        # In the workspace itself, a marker says the loop is writing: a Ctrl-C here is the loop's own mess.
        marker = applying_marker(s.ws, s.tag) if proposal.where == s.ws else None
        if marker is not None:
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.touch()
        write_files(proposal.where, proposal.applied)
        commit = Git(proposal.where).commit(sorted(proposal.applied.files), hyp.title)
        folder = WorkspaceMap(s.ws).run(s.ledger.next_id())
        run_dir = folder.path
        run_dir.mkdir(parents=True, exist_ok=True)
        diff_path = folder.patch
        diff_path.write_text(s.git.diff(parent.commit, commit), encoding="utf-8")
        exp = hypothesis_record(run_dir.name, s.tag, hyp, parent, proposer=proposer,
                                citations=s.grounding.resolve(hyp.citations), passages=passages,
                                commit=commit, content_hash=proposal.applied.content_hash,
                                diff=rel(s.ws, diff_path), log=rel(s.ws, folder.log))
        s.start(exp)
        if marker is not None:
            marker.unlink(missing_ok=True)
        t.apply_commit += time.monotonic() - ta
        return Committed(exp, parent, run_dir, proposal.where)

    def run_here(self, proposal: Proposal, passages: list[Any], t: Timings, proposer: str) -> Experiment:
        """Commit, run, judge and record an experiment in the workspace (the serial loop and an agent's
        step): a keep is tagged and stays checked out, anything else is reset to the latest kept run."""
        s = self.s
        home, base = s.last_kept(), s.baseline()
        assert home is not None and base is not None
        done = self.commit(proposal, passages, t, proposer)
        # A Ctrl-C from here on is Session.wind_down's: it records the experiment and resets the branch.
        fate = s.trial.judge(done.exp, done.parent, base, s.kept(), done.run_dir, t)
        td = time.monotonic()
        self.land(done.exp, fate, home=home)
        t.decision += time.monotonic() - td
        return done.exp

    def land(self, exp: Experiment, fate: Fate, *, home: Experiment | None) -> None:
        """Tag a keep, move the branch, and record the end. With `home`, anything but a keep resets the
        workspace to it; without (a parallel loop: the experiment ran in a worktree), a keep becomes the
        branch's tip and nothing else touches the workspace.

        The tag and the branch move come before the end line: an interrupt between them is undone by
        Session.wind_down (or, after a kill, by resume: loop.resume.reconcile_keep_tags), which hold
        the ledger as the record."""
        s = self.s
        if fate.status is Status.KEEP:
            s.git.tag(keep_tag(s.tag, exp.id), exp.commit)
            if home is None:
                s.git.reset_hard(exp.commit)  # the newest keep is the tip, whichever kept run it started from
        elif home is not None:
            s.git.reset_hard(home.commit)
        s.end(exp, fate)
