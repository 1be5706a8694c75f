"""The novelty check: a hypothesis that says what an earlier experiment said, in other words, is
refused before anything is committed or run, and sent back naming that experiment.

The repeat check of `loop.apply` catches an identical diff; this one catches the same idea
reworded. Title and rationale are embedded with the knowledge base's embedder and compared by
cosine similarity with every earlier experiment of the ledger that ran (refused and interrupted
ones do not count, so a fixed re-proposal is not refused as a repeat of itself). With no
knowledge base the embedder is loaded anyway (the packaged model is always there); when it
cannot load, the check is off for the night and says so once.

Only proposers that write prose hypotheses ask for it (`checks_novelty = True`, i.e. Claude):
Optuna's trials are near one another by design, and a script is the researcher's own list.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np

from gg_research.config import Config
from gg_research.loop.hypothesis import Hypothesis
from gg_research.results.journal import ran
from gg_research.results.ledger import Experiment, Status

if TYPE_CHECKING:
    from gg_research.knowledge.protocols import Embedder
    from gg_research.loop.proposers.base import Proposer


def hypothesis_text(title: str, rationale: str) -> str:
    return f"{title.strip()}. {' '.join(rationale.split())}".strip()


def experiment_text(e: Experiment) -> str:
    return hypothesis_text(e.title, str(e.hypothesis.get("rationale") or ""))


class NoveltyCheck:
    def __init__(self, config: Config, embedder: Callable[[], Embedder], say: Callable[[str], None]) -> None:
        self.cfg = config
        self._get_embedder = embedder
        self._embedder: Embedder | Literal[False] | None = None  # None: not loaded yet; False: cannot load, check off
        self._say = say
        self._vectors: dict[str, np.ndarray] = {}  # experiment id -> unit vector of its text

    def applies(self, hyp: Hypothesis, proposer: Proposer) -> bool:
        if not self.cfg.proposer.novelty_check or not proposer.checks_novelty:
            return False
        # A hypothesis another proposer made in its stead (Optuna after API failures) is not prose.
        return (hyp.meta.proposer or proposer.name) == proposer.name

    def refusal(self, hyp: Hypothesis, proposer: Proposer, earlier: Sequence[Experiment]) -> str | None:
        """Why `hyp` repeats an earlier experiment, or None when it is new enough (or the check is off)."""
        if not self.applies(hyp, proposer):
            return None
        pool = [e for e in earlier if ran(e) and e.status is not Status.BASELINE and e.title]
        embedder = self._embedder_or_none() if pool else None
        if embedder is None:
            return None
        todo = [e for e in pool if e.id not in self._vectors]
        texts = [experiment_text(e) for e in todo] + [hypothesis_text(hyp.title, hyp.rationale)]
        vectors = _unit(np.asarray(embedder.embed(texts), dtype=np.float32))
        self._vectors.update({e.id: v for e, v in zip(todo, vectors[:-1])})
        sims = np.stack([self._vectors[e.id] for e in pool]) @ vectors[-1]
        best = int(np.argmax(sims))
        threshold = self.cfg.proposer.novelty_threshold
        if float(sims[best]) < threshold:
            return None
        e = pool[best]
        return (f"too close to {e.id} ('{e.title}', {e.status}): title and rationale similarity {float(sims[best]):.2f} "
                f">= proposer.novelty_threshold {threshold:.2f}; that idea was tried, so propose a different one "
                f"(or a change its result calls for, saying how it differs)")

    def _embedder_or_none(self) -> Embedder | None:
        if self._embedder is None:
            try:
                self._embedder = self._get_embedder()
            except Exception as exc:  # no model: the night goes on without the check, said once
                self._embedder = False
                self._say(f"novelty check off for this loop: the embedder did not load ({type(exc).__name__}: {exc})")
        return self._embedder or None


def _unit(m: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    return m / np.where(norms == 0, 1.0, norms)
