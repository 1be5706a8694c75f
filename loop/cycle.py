"""The checks a proposal passes before anything is written: novelty, the edits themselves, a repeated diff.

A proposal that fails one is refused (results.lifecycle: Status.REFUSED) with a typed cause; the
reason goes back to the proposer as its feedback.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from gg_research.loop.apply import Applied, check_edits
from gg_research.loop.errors import EditRefused
from gg_research.loop.hypothesis import Hypothesis
from gg_research.loop.novelty import NoveltyCheck
from gg_research.loop.proposers.base import Proposer
from gg_research.results.ledger import Experiment
from gg_research.results.lifecycle import Cause, Fate, Status

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
