"""The interface every proposer honours."""

from __future__ import annotations

from typing import Any, Protocol

from loop.hypothesis import Hypothesis
from loop.state import LoopState


class Proposer(Protocol):
    name: str
    # True when the proposer reads retrieved passages, so the loop queries the knowledge base.
    wants_passages: bool

    def propose(self, state: LoopState, feedback: str | None) -> Hypothesis:
        """The next hypothesis; `feedback` is why the previous one was refused.

        Raises ProposerExhausted when there is nothing left to propose.
        """
        ...

    def tell(self, record: dict[str, Any]) -> None:
        """A finished (or refused) experiment's ledger record."""
        ...
