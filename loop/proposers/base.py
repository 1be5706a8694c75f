"""The interface every proposer honours, and what it is built from."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from gg_research.config import Config
from gg_research.loop.grounding import Grounding
from gg_research.loop.hypothesis import Hypothesis
from gg_research.loop.state import LoopState
from gg_research.results.ledger import Experiment


@dataclass
class ProposerContext:
    """What a proposer is built from: the workspace, its config, the tag and its ledger so far."""

    workspace: Path
    config: Config
    tag: str
    records: list[Experiment]
    grounding: Grounding
    say: Callable[[str], None]


class Proposer(Protocol):
    """What the loop calls on a proposer, and the attributes it reads."""

    name: str
    # True when the proposer reads retrieved passages, so the loop queries the knowledge base for
    # `passages_k` of them.
    wants_passages: bool
    passages_k: int
    # True when its hypotheses are prose that can repeat an idea in new words (loop.novelty).
    checks_novelty: bool

    def propose(self, state: LoopState, feedback: str | None) -> Hypothesis:
        """The next hypothesis; `feedback` is why the previous one was refused.

        Raises ProposerExhausted when there is nothing left to propose.
        """
        ...

    def tell_baseline(self, exp: Experiment) -> None:
        """The baseline's record, once it is measured (a model-based proposer seeds itself with it)."""
        ...

    def tell(self, exp: Experiment) -> None:
        """A finished (or refused) experiment's record."""
        ...
