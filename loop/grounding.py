"""The loop's access to the knowledge base: passages for a state, citations resolved to sources.

No knowledge base is a normal state (the hypotheses just carry no passages), so every failure
here is said once as a line and the loop goes on without it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from gg_research.config import Config
from gg_research.loop.records import citation
from gg_research.results.ledger import Experiment, Status

if TYPE_CHECKING:
    from gg_research.knowledge.protocols import Embedder
    from gg_research.retrieval.passage import Passage
    from gg_research.retrieval.searcher import Searcher


class PassageSource(Protocol):
    """What a preview of the prompt reads passages from: a Grounding, or a stand-in for one."""

    def passages(self, brief: str, records: Sequence[Experiment], k: int = 5) -> list[Passage]: ...


class Grounding:
    def __init__(self, workspace: Path, config: Config, say: Callable[[str], None]) -> None:
        self.ws = workspace
        self.cfg = config
        self.say = say
        # None: not tried yet; False: tried, no usable knowledge base.
        self._searcher: Searcher | Literal[False] | None = None

    def searcher(self) -> Searcher | None:
        """The knowledge base's Searcher, or None when it is missing or empty."""
        if self._searcher is None:
            try:
                from gg_research.retrieval import Searcher

                s = Searcher(self.ws, self.cfg.knowledge)
                self._searcher = False if s.is_empty() else s
            except Exception as exc:  # a store or model that will not open: the night goes on ungrounded
                self.say(f"knowledge base not used: {type(exc).__name__}: {exc}")
                self._searcher = False
        return self._searcher or None

    def embedder(self) -> Embedder:
        """The knowledge base's embedder; loaded from the config even when there is no knowledge base.

        Raises what loading raises (knowledge.errors.EmbedderError when the model is not there).
        """
        s = self.searcher()
        found: Embedder | None = getattr(s, "embedder", None) if s is not None else None
        if found is None:
            from gg_research.knowledge.embedder import load_embedder

            found = load_embedder(self.cfg.knowledge.embedder, self.ws)
        return found

    def passages(self, brief: str, records: Sequence[Experiment], k: int = 5) -> list[Passage]:
        s = self.searcher()
        if s is None:
            return []
        try:
            return list(s.search(state_query(brief, records), k=k))
        except Exception as exc:  # one failed query costs this experiment its passages, not the night
            self.say(f"knowledge search failed: {type(exc).__name__}: {exc}")
            return []

    def resolve(self, chunk_ids: Sequence[str]) -> list[dict[str, Any]]:
        """Each cited chunk id with its source, page and section (just the id when unknown)."""
        if not chunk_ids:
            return []
        found: dict[str, dict[str, Any]] = {}
        s = self.searcher()
        if s is not None:
            try:
                found = {p.chunk_id: citation(p) for p in s.get(list(chunk_ids))}
            except Exception as exc:  # the ids stay in the ledger; only their sources are missing
                self.say(f"citations not resolved: {type(exc).__name__}: {exc}")
        return [found.get(c, {"chunk_id": c}) for c in chunk_ids]


def state_query(brief: str, records: Sequence[Experiment]) -> str:
    """A query for the passages of this state: the brief's opening and what recently failed or collapsed."""
    head = " ".join(brief.split())[:300]
    recent = [r.title for r in records[-3:] if r.status in (Status.DISCARD, Status.CRASH) or r.collapse]
    return (head + " " + " ".join(recent)).strip() or "training schedule alignment segmentation"
