"""What a proposer sees of the loop: the brief, the mutable files and the ledger, summarised."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gg_research.config import Config
from gg_research.results.ledger import Experiment, Status
from gg_research.results.pareto import near_misses

RECENT = 8


@dataclass
class LoopState:
    workspace: Path
    tag: str
    config: Config
    brief: str
    files: dict[str, str]  # mutable path -> current contents (of the latest kept commit)
    records: list[Experiment]  # this tag's finished experiments, oldest first
    eps: dict[str, float] = field(default_factory=dict)
    passages: list[Any] = field(default_factory=list)  # retrieval.Passage chosen for this state

    @property
    def baseline(self) -> Experiment | None:
        return next((r for r in reversed(self.records) if r.status is Status.BASELINE), None)

    @property
    def kept(self) -> list[Experiment]:
        """Kept runs and the baseline: the candidates for a parent."""
        return [r for r in self.records if r.status.kept]

    def recent(self, n: int = RECENT) -> list[Experiment]:
        return self.records[-n:]

    def collapses(self) -> list[Experiment]:
        return [r for r in self.records if r.collapse]

    def near_misses(self) -> list[Experiment]:
        """The report's near misses (results.pareto): one noise margin from the front."""
        base = self.baseline
        return near_misses(self.records, self.config.objectives, self.eps, base.metrics if base else None)

    def summary_text(self) -> str:
        """The ledger as the prompt shows it: front, recent runs, near-misses, collapses."""
        names = [o.name for o in self.config.objectives]
        parts = ["## Kept runs (a hypothesis may name one as its parent)"]
        parts += [_line(r, names) for r in self.kept] or ["(none yet)"]
        parts.append(f"\n## Last {RECENT} experiments")
        parts += [_line(r, names) for r in self.recent()] or ["(none yet)"]
        nm = self.near_misses()
        if nm:
            parts.append("\n## Near-misses (discarded, but one noise margin from the front)")
            parts += [_line(r, names) for r in nm[-RECENT:]]
        col = self.collapses()
        if col:
            parts.append("\n## Collapses (a floor broke: avoid these directions)")
            parts += [_line(r, names) for r in col[-RECENT:]]
        if self.eps:
            parts.append("\nNoise margins (eps): " + ", ".join(f"{k} {v:.4f}" for k, v in self.eps.items()))
        return "\n".join(parts)


def _line(r: Experiment, names: list[str]) -> str:
    figs = " ".join(f"{n}={r.metrics[n]:.4f}" for n in names if n in r.metrics)
    return f"- {r.id} [{r.status}] {r.title} {figs} :: {r.reason}".rstrip()
