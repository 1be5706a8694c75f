"""Bring your own agent: one experiment of the working tree's edit, under the loop's rules.

A coding agent (Claude Code, Codex, Cursor, ...) edits the mutable files itself. `AgentStep`
turns that edit into a hypothesis (one search/replace edit per changed file, against the latest
kept commit), checks it exactly as the loop checks a proposed one (`loop.apply.check_edits`:
scope, compiles, not a repeat), and runs it as the loop runs one of its own: a cycle
(loop.cycle) over a session (loop.session) with no proposer: commit, run under the budget,
integrity checks, keep rule, tag or reset, ledger, report. The step holds the loop's lock, so an
agent and a loop never work one workspace at once.

Anything outside the mutable files (a changed frozen file, a new untracked file) is refused
before anything is touched: the working tree, the branch and the ledger stay as they were.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gg_research.config import Config
from gg_research.loop import integrity, keep
from gg_research.loop.apply import Applied, mutable_contents, write_files
from gg_research.loop.cycle import Cycle, Proposal, Refusal, check_proposal
from gg_research.loop.errors import EditRefused, LoopSetupError
from gg_research.loop.hypothesis import Edit, Hypothesis, ProposalMeta
from gg_research.loop.runner import RunFn
from gg_research.loop.resume import prepare_branch
from gg_research.loop.session import Options, Session
from gg_research.loop.trial import Timings
from gg_research.loop.ui import LoopUI
from gg_research.results.ledger import Experiment, Status
from gg_research.workspace_map import WorkspaceMap

AGENT = "agent"  # the proposer name the ledger and the report show
DEFAULT_TAG = "agent"


@dataclass
class StepRequest:
    """What the agent says about its edit; the edit itself is the working tree."""

    title: str
    rationale: str = ""
    citations: list[str] = field(default_factory=list)
    passages: list[dict[str, Any]] = field(default_factory=list)  # what it read through search_knowledge
    info: dict[str, Any] = field(default_factory=dict)  # e.g. {"via": "mcp", "client": "claude-code"}


@dataclass
class StepOutcome:
    experiment: Experiment
    baseline_run: Experiment | None  # measured by this step (the first one of a tag)
    latest_kept: Experiment | None
    warnings: list[str] = field(default_factory=list)  # e.g. a baseline too weak to judge against

    def to_json(self, objectives: list[str]) -> dict[str, Any]:
        exp = self.experiment
        kept = exp.status is Status.KEEP
        home = self.latest_kept
        if kept:
            where = f"kept: committed {exp.commit[:7]} and tagged gg/{exp.tag}/{exp.id}; the files stay as you left them"
        else:
            where = (f"{exp.status.value}: reverted; the mutable files are back at the latest kept run "
                     f"{home.id if home else '?'} ({home.commit[:7] if home else '?'}); your change is in {exp.diff}")
        out: dict[str, Any] = {
            "experiment": exp.id, "tag": exp.tag, "status": exp.status.value, "decision": exp.status.value,
            "reason": exp.reason, "metrics": {k: exp.metrics[k] for k in objectives if k in exp.metrics},
            "seeds": len(exp.seeds), "commit": exp.commit, "diff": exp.diff, "log": exp.log, "message": where,
        }
        if self.warnings:
            out["warnings"] = list(self.warnings)
        if self.baseline_run is not None:
            b = self.baseline_run
            out["baseline"] = {"experiment": b.id, "metrics": b.metrics, "noise_margins": b.epsilon,
                               "note": "there was no baseline yet: it was measured first, then your edit"}
        return out


def edit_between(path: str, old: str, new: str) -> Edit | None:
    """One edit turning `old` into `new`: the changed line span, with context until it is unique."""
    if old == new:
        return None
    a, b = old.splitlines(keepends=True), new.splitlines(keepends=True)
    head = 0
    while head < min(len(a), len(b)) and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < min(len(a), len(b)) - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    middle_new = "".join(b[head:len(b) - tail])
    for context in range(max(len(a), 1) + 1):
        lo, hi = max(0, head - context), min(len(a), len(a) - tail + context)
        search = "".join(a[lo:hi])
        if search and old.count(search) == 1:
            return Edit(path=path, search=search, replace="".join(a[lo:head]) + middle_new + "".join(a[len(a) - tail:hi]))
        if lo == 0 and hi == len(a):
            break
    raise EditRefused(f"{path} is empty at the latest kept commit; the loop cannot express an edit of an empty file")


class QuietUI(LoopUI):
    """A LoopUI for servers and captured output: plain lines to `say` (stderr by default), no live line, and
    while a run goes on a line every `every_s` seconds with its elapsed time, so a caller that reads the output
    (an agent's shell tool, the MCP server's progress) sees it move. The running phase is kept for reports."""

    def __init__(self, say: Callable[[str], None] | None = None, every_s: float = 30.0) -> None:
        import sys

        from rich.console import Console

        super().__init__(Console(file=sys.stderr, highlight=False, soft_wrap=True))
        self._say = say
        self.every_s = every_s
        self.phase: tuple[str, str, float] | None = None  # (experiment id, what, budget)
        self._beat: threading.Event | None = None

    def say(self, text: str) -> None:
        if self._say is not None:
            self._say(text)
        else:
            super().say(text)

    def start(self, exp_id: str, text: str, budget_s: float) -> None:
        self.phase = (exp_id, text, budget_s)
        self.say(f"{exp_id} running: {text[:70]} (budget {budget_s:g} s)")
        if self.every_s > 0:
            self._beat = stop = threading.Event()
            t0 = time.monotonic()

            def beat() -> None:
                while not stop.wait(self.every_s):
                    self.say(f"{exp_id} running: {time.monotonic() - t0:.0f} s so far (a training budget of "
                             f"{budget_s:g} s; start-up and evaluation come on top)")

            threading.Thread(target=beat, daemon=True).start()

    def stop(self) -> None:
        if self._beat is not None:
            self._beat.set()
            self._beat = None
        self.phase = None


class AgentStep:
    """Runs the working tree's edit of the mutable files as one experiment of `tag`."""

    def __init__(self, workspace: Path, config: Config, tag: str = DEFAULT_TAG, *, run_fn: RunFn | None = None,
                 ui: LoopUI | None = None, write_report: bool = True,
                 on_accepted: Callable[[bool], None] | None = None) -> None:
        self.session = Session(workspace, config, Options(tag=tag, write_report=write_report, follow_head=True),
                               run_fn=run_fn, ui=ui)
        self.ws = self.session.ws
        self.git = self.session.git
        self.mutable = self.session.mutable
        # Called once the edit passed the checks, with True when a baseline must be measured first.
        self._on_accepted = on_accepted or (lambda needs_baseline: None)
        self.outcome: StepOutcome | None = None

    @property
    def pending_path(self) -> Path:
        return WorkspaceMap(self.ws).agent_edit(self.session.tag)

    def run(self, req: StepRequest) -> StepOutcome:
        """Check, commit, run and judge the edit; raise EditRefused (nothing touched) when it is not allowed."""
        code = self.session.guarded(lambda: self._locked(req))
        if code == 130 or self.outcome is None:
            raise KeyboardInterrupt
        return self.outcome

    def _locked(self, req: StepRequest) -> int:
        eng = self.session
        if not self.git.is_repo():
            raise LoopSetupError(f"{self.ws}: not a git repository (make the workspace with 'gg-research init')")
        # What runs and what judges must be what the diff and the installed package say.
        problem = integrity.package_problem(self.ws) or integrity.bytecode_problem(self.ws)
        if problem is not None:
            raise EditRefused(f"{problem}; nothing was run")
        hidden = self.git.hidden()
        if hidden:  # git status, diff and reset --hard pass over them: the step could not see or undo an edit there
            shown = " ".join(hidden[:8]) + (" ..." if len(hidden) > 8 else "")
            raise EditRefused(f"git is told not to look at {shown} (update-index --skip-worktree or --assume-unchanged); "
                              f"undo it (git update-index --no-skip-worktree --no-assume-unchanged -- {shown}); nothing was run")
        if self.pending_path.exists():
            eng.ui.say(f"note: {self.pending_path} holds the edit of a step killed before its commit (git apply restores it)")
        if any(not e.status.final for e in eng.records()) and not self.git.changed_since(self.git.head()):
            # A step killed mid-run left its commit checked out (we hold the lock, so it is dead):
            # record it as interrupted and go back to the latest kept run before reading the edit.
            for line in prepare_branch(self.git, eng.ledger, self.ws, eng.tag, self.mutable, eng.records()):
                eng.ui.say(line)
        kept = eng.last_kept()
        base = kept.commit if kept is not None else self.git.head()
        hyp, wanted = self._hypothesis(req, base)
        self._on_accepted(eng.baseline() is None)
        self.pending_path.parent.mkdir(parents=True, exist_ok=True)
        self.pending_path.write_text(self.git("diff", "--no-color", base, "--", *self.mutable), encoding="utf-8")
        had_baseline = eng.baseline()
        try:
            # The edit is in memory and in the pending patch; the branch is prepared on clean files.
            self.git.reset_hard(self.git.head())
            eng.prepare()
            parent = eng.last_kept()
            if parent is None or parent.commit != base:
                raise LoopSetupError(f"{self.ws}: the latest kept commit moved while the step started; call it again")
            applied = self._check(hyp)
        except BaseException:
            self._restore(wanted)
            raise
        try:
            exp = Cycle(eng).run_here(Proposal(hyp, applied, parent, self.ws), [], Timings(), AGENT)
        finally:
            self.pending_path.unlink(missing_ok=True)  # from the commit on, the run's patch.diff holds the edit
        baseline = eng.baseline()
        weak = keep.weak_baseline_notice(eng.cfg.objectives, [s.metrics for s in baseline.seeds if s.ok],
                                         eng.cfg.run.budget) if baseline is not None else None
        self.outcome = StepOutcome(exp, baseline if had_baseline is None else None, eng.last_kept(),
                                   [weak] if weak else [])
        return 0

    def _hypothesis(self, req: StepRequest, base: str) -> tuple[Hypothesis, dict[str, str]]:
        """The working tree's edit as a checked hypothesis (against `base`), or EditRefused."""
        outside = [p for p in self.git.changed_since(base) + self.git.untracked() if p not in self.mutable]
        if outside:
            shown = ", ".join(sorted(set(outside))[:8]) + (" ..." if len(set(outside)) > 8 else "")
            raise EditRefused(f"changes outside the mutable files ({', '.join(self.mutable)}): {shown}; "
                              "undo them (git checkout -- FILE; delete new files) and call again; nothing was run")
        old: dict[str, str] = {}
        for rel in self.mutable:
            text = self.git.show(base, rel)
            if text is None:
                raise LoopSetupError(f"{self.ws / rel}: mutable file is not committed at {base[:7]}")
            if not (self.ws / rel).is_file():
                raise EditRefused(f"{rel} was deleted; a mutable file may be edited, not removed; restore it (git checkout -- {rel})")
            old[rel] = text
        wanted = mutable_contents(self.ws, self.mutable)
        edits = [e for rel in self.mutable if (e := edit_between(rel, old[rel], wanted[rel])) is not None]
        if not edits:
            raise EditRefused(f"nothing to run: {', '.join(self.mutable)} unchanged since the latest kept commit "
                              f"{base[:7]}; edit the file(s) first")
        from gg_research.loop.hypothesis import parse_hypothesis

        hyp = parse_hypothesis({"title": req.title, "rationale": req.rationale, "citations": list(req.citations),
                                "edits": [e.model_dump() for e in edits]}, where="experiment")
        hyp.meta = ProposalMeta(proposer=AGENT, passages=list(req.passages), client=dict(req.info))
        applied = self._check(hyp, current=old)
        assert {rel: wanted[rel] for rel in applied.files} == applied.files
        return hyp, wanted

    def _check(self, hyp: Hypothesis, current: dict[str, str] | None = None) -> Applied:
        """The loop's checks of a proposal (loop.cycle); a refusal goes back to the agent, nothing recorded."""
        checked = check_proposal(hyp, self.ws, self.mutable, seen=self.session.seen_hashes(), current=current)
        if isinstance(checked, Refusal):
            raise EditRefused(checked.reason)
        return checked

    def _restore(self, wanted: dict[str, str]) -> None:
        """Put the agent's edit back in the working tree (a failed set-up must not lose it)."""
        current = mutable_contents(self.ws, self.mutable)
        changed = {rel: text for rel, text in wanted.items() if current.get(rel) != text}
        if changed:
            write_files(self.ws, Applied(files=changed, content_hash=""))
        self.pending_path.unlink(missing_ok=True)
