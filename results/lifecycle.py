"""An experiment's lifecycle (ARCHITECTURE.md: The lifecycle): the states it and its seed runs can be in,
the moves allowed between them, why each experiment ended, and `settle`, the one move.

Every fate the loop gives an experiment passes through `settle`: a move the table below does not allow
(ending an experiment twice, a keep caused by a crash) is a bug, and raises before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gg_research.results.record import Experiment


class Status(StrEnum):
    """Where an experiment stands. A str, so the JSON and the TSV carry its plain value.

    Declared in the order the report counts them (`STATUS_ORDER`).
    """

    BASELINE = "baseline"
    KEEP = "keep"
    DISCARD = "discard"
    CRASH = "crash"
    INVALID = "invalid"  # it ran and broke a rule: an integrity check, the harness's budget or data
    REFUSED = "refused"  # refused before it ran: nothing was committed or run
    INTERRUPTED = "interrupted"
    RUNNING = "running"

    @property
    def final(self) -> bool:
        """The experiment has ended (an end line was written)."""
        return self is not Status.RUNNING

    @property
    def kept(self) -> bool:
        """Its commit is tagged and stays reachable: a front member and a possible parent."""
        return self in (Status.BASELINE, Status.KEEP)

    @property
    def measured(self) -> bool:
        """Its metrics are trusted (a crash has none; an invalid run failed an integrity check)."""
        return self in (Status.BASELINE, Status.KEEP, Status.DISCARD)

    @property
    def ran(self) -> bool:
        """It was committed and run (or was in its run): not refused."""
        return self is not Status.REFUSED


STATUS_ORDER: tuple[str, ...] = tuple(s.value for s in Status)


class Cause(StrEnum):
    """Why an experiment ended: the typed half of its reason (the other half is the free-text detail)."""

    MEASURED = "measured"  # a baseline's seeds all ran
    KEEP_RULE = "keep-rule"  # the keep rule's verdict (results/keep: pareto, scalar, threshold, paired)
    RERUN_FAILED = "rerun-failed"  # a re-run (a marginal win's, a busy machine's) did not finish
    CRASHED = "crashed"  # the run crashed or hit the hard time limit
    NON_FINITE = "non-finite"  # the run reported NaN or infinite objectives
    INTEGRITY = "integrity"  # the commit, the worktree or the frozen inputs failed a check
    HARNESS_RULES = "harness-rules"  # the harness found the run broke its rules (over budget, data changed)
    NOVELTY = "novelty"  # too close to an earlier experiment
    BAD_EDIT = "bad-edit"  # an edit that does not apply, leaves scope or does not compile
    REPEATED_DIFF = "repeated-diff"  # files identical to an earlier experiment's
    RUN_LOST = "run-lost"  # the thread waiting on the run failed (a parallel loop)
    STOPPED = "stopped"  # Ctrl-C or SIGTERM
    LOOP_ERROR = "loop-error"  # the loop stopped on an error (disk full, read-only ledger)
    LOOP_DIED = "loop-died"  # found running on resume: the loop was killed


# The moves allowed, and the causes each end may have. Every experiment starts RUNNING (its start line,
# a refused proposal's too) and ends once: an end is never changed (the ledger is append-only).
_ENDS = frozenset({Status.BASELINE, Status.KEEP, Status.DISCARD, Status.CRASH, Status.INVALID, Status.REFUSED,
                   Status.INTERRUPTED})
TRANSITIONS: dict[Status, frozenset[Status]] = {s: _ENDS if s is Status.RUNNING else frozenset() for s in Status}
CAUSES: dict[Status, frozenset[Cause]] = {
    Status.BASELINE: frozenset({Cause.MEASURED}),
    Status.KEEP: frozenset({Cause.KEEP_RULE}),
    Status.DISCARD: frozenset({Cause.KEEP_RULE, Cause.RERUN_FAILED}),
    Status.CRASH: frozenset({Cause.CRASHED, Cause.NON_FINITE, Cause.RERUN_FAILED, Cause.RUN_LOST}),
    Status.INVALID: frozenset({Cause.INTEGRITY, Cause.HARNESS_RULES}),
    Status.REFUSED: frozenset({Cause.NOVELTY, Cause.BAD_EDIT, Cause.REPEATED_DIFF}),
    Status.INTERRUPTED: frozenset({Cause.STOPPED, Cause.LOOP_ERROR, Cause.LOOP_DIED}),
    Status.RUNNING: frozenset(),
}


class LifecycleError(RuntimeError):
    """A move the lifecycle does not allow: a bug in the loop, never the user's doing."""


@dataclass(frozen=True)
class Fate:
    """How an experiment ends: its status, the typed cause, and the one sentence a reader sees."""

    status: Status
    cause: Cause
    detail: str

    def __post_init__(self) -> None:
        if self.cause not in CAUSES[self.status]:
            raise LifecycleError(f"{self.status.value} cannot be caused by {self.cause.value}")


def settle(exp: Experiment, fate: Fate) -> None:
    """Move `exp` to its fate: the one place an experiment's status, cause and reason are set."""
    if fate.status not in TRANSITIONS[exp.status]:
        raise LifecycleError(f"{exp.id}: {exp.status.value} cannot become {fate.status.value}")
    exp.status, exp.cause, exp.reason = fate.status, fate.cause, fate.detail


class SeedStatus(StrEnum):
    """How one seed's run ended (the harness's run status; loop.runner maps it)."""

    OK = "ok"
    CRASH = "crash"
    TIMEOUT = "timeout"
    INVALID = "invalid"

    @classmethod
    def read(cls, raw: str) -> tuple[SeedStatus, bool]:
        """A seed status as a ledger spells it, and whether it was load-skewed (before that became a flag)."""
        if raw == "load-skewed":
            return cls.OK, True
        try:
            return cls(raw), False
        except ValueError:
            return cls.CRASH, False


@dataclass(frozen=True)
class LoadSkew:
    """A seed run a busy machine slowed: not counted, run again. Its own figures are the run's aux;
    `reference` holds the baseline's figures it was held against, `tolerance` the margin allowed."""

    detail: str
    reference: dict[str, float]
    tolerance: float | None = None  # None: read from a ledger that did not record it
