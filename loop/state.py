"""What a proposer sees of the loop: the brief, the mutable files and the ledger, summarised."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gg_research.config import Config
from gg_research.loop.steering import NOTES_SHOWN, Note
from gg_research.results.curves import budget_bound, curve_text, experiment_curve, experiment_reading
from gg_research.results.journal import Plateau, current_plateau, lesson_subject, memory_line, night_memory
from gg_research.results.ledger import Experiment, Status
from gg_research.results.pareto import near_misses
from gg_research.retrieval.context_block import estimate_tokens

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
    notes: list[Note] = field(default_factory=list)  # the researcher's dated notes (loop.steering), oldest first
    pending: list[Experiment] = field(default_factory=list)  # running now in a parallel loop, results to come
    history: list[Experiment] = field(default_factory=list)  # imported from a results.tsv kept before gg-research

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

    @property
    def lesson_subject(self) -> Experiment | None:
        """The result the next hypothesis's lesson is about (results.journal)."""
        return lesson_subject(self.records)

    def plateau(self) -> Plateau | None:
        """The current stretch without a keep, when it is long enough to ask for another kind of change."""
        n = self.config.proposer.plateau_after
        p = current_plateau(self.records)
        return p if n and p is not None and p.length >= n else None

    def memory(self) -> list[str]:
        """Every experiment of the night, a line each, within the configured budget (results.journal)."""
        names = [o.name for o in self.config.objectives]
        return night_memory(self.records, names, self.config.proposer.memory_tokens, estimate_tokens)

    def history_memory(self) -> list[str]:
        """The imported history, a line each, within the same budget as the night's memory."""
        names = [o.name for o in self.config.objectives]
        return night_memory(self.history, names, self.config.proposer.memory_tokens, estimate_tokens)

    def summary_text(self) -> str:
        """The ledger as the prompt shows it: front, the whole night, near-misses, collapses, plateau."""
        names = [o.name for o in self.config.objectives]
        parts = ["## Kept runs (a hypothesis may name one as its parent)"]
        parts += [memory_line(r, names) for r in self.kept] or ["(none yet)"]
        parts.append(f"\n## The night so far ({len(self.records)} experiments of this loop, oldest first)")
        parts += self.memory() or ["(none yet)"]
        if self.history:
            parts.append(f"\n## Tried before gg-research ({len(self.history)} experiments imported from results.tsv, "
                         "measured on another setup: what was tried and how it ended; do not repeat them)")
            parts += self.history_memory()
        if self.pending:
            parts.append("\n## Running now (results to come; do not propose these again)")
            parts += [f"- {r.id} {r.title}" + (f" (on {r.parent})" if r.parent else "") for r in self.pending]
        nm = self.near_misses()
        if nm:
            parts.append("\n## Near-misses (discarded, but one noise margin from the front)")
            parts += [memory_line(r, names) for r in nm[-RECENT:]]
        col = self.collapses()
        if col:
            parts.append("\n## Collapses (a floor broke: avoid these directions)")
            parts += [memory_line(r, names) for r in col[-RECENT:]]
        curves = self.curves_text()
        if curves:
            parts.append("\n## Training curves (each run's own loss as it trained, read in code; "
                         "call training_curve for a whole series)")
            parts += curves
        if self.eps:
            parts.append("\nNoise margins (eps): " + ", ".join(f"{k} {v:.4f}" for k, v in self.eps.items()))
        return "\n".join(parts)

    def curves_text(self) -> list[str]:
        """A line per kept run and for the previous run: what its training curve did (results.curves).
        A run cut short by the budget is said to be, so its idea is not taken for a bad one."""
        by_id = {r.id: r for r in self.records}
        previous = self.lesson_subject
        shown = [r for r in self.kept[-RECENT:] if r is not previous] + ([previous] if previous is not None else [])
        lines = []
        for r in shown:
            reading = experiment_reading(self.workspace, r)
            if reading is None:
                continue
            parent = by_id.get(r.parent or "")
            bound = budget_bound(reading, experiment_reading(self.workspace, parent) if parent else None)
            role = "previous, " if r is previous else ""
            line = f"- {r.id} ({role}{r.status}): {reading.text}"
            if bound:
                line += ": budget-bound, the idea may need more steps rather than be wrong"
            lines.append(line)
        return lines

    def curve_of(self, exp_id: str, series: str | None = None) -> str:
        """The whole of one experiment's curve as text (the training_curve tool's answer)."""
        exp = next((r for r in self.records if r.id == exp_id), None)
        if exp is None:
            return f"no experiment {exp_id!r} in this loop's ledger"
        curve = experiment_curve(self.workspace, exp)
        if curve is None:
            return f"{exp_id} left no training curve"
        return curve_text(curve, exp_id, series)

    def notes_text(self) -> str:
        return "\n".join(n.line() for n in self.notes[-NOTES_SHOWN:])
