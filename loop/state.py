"""What a proposer sees of the loop: the brief, the mutable files and the ledger, summarised."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gg_research.config import Config

RECENT = 8


@dataclass
class LoopState:
    workspace: Path
    tag: str
    config: Config
    brief: str
    files: dict[str, str]  # mutable path -> current contents (of the latest kept commit)
    records: list[dict[str, Any]]  # this tag's finished experiments, oldest first
    eps: dict[str, float] = field(default_factory=dict)
    passages: list[Any] = field(default_factory=list)  # retrieval.Passage chosen for this state

    @property
    def baseline(self) -> dict[str, Any] | None:
        return next((r for r in reversed(self.records) if r.get("status") == "baseline"), None)

    @property
    def front(self) -> list[dict[str, Any]]:
        """Kept runs and the baseline: the candidates for a parent."""
        return [r for r in self.records if r.get("status") in ("baseline", "keep")]

    def latest_kept(self) -> dict[str, Any] | None:
        front = self.front
        return front[-1] if front else None

    def recent(self, n: int = RECENT) -> list[dict[str, Any]]:
        return self.records[-n:]

    def collapses(self) -> list[dict[str, Any]]:
        return [r for r in self.records if r.get("collapse")]

    def near_misses(self) -> list[dict[str, Any]]:
        """Discarded runs that came within eps of the best kept value on some objective."""
        best = {o.name: _best(self.front, o.name, o.direction) for o in self.config.objectives}
        out = []
        for r in self.records:
            if r.get("status") != "discard" or r.get("collapse"):
                continue
            m = r.get("metrics") or {}
            for o in self.config.objectives:
                b, v = best.get(o.name), m.get(o.name)
                if b is None or v is None:
                    continue
                gap = (b - v) if o.direction == "maximize" else (v - b)
                if gap <= self.eps.get(o.name, 0.0):
                    out.append(r)
                    break
        return out

    def summary_text(self) -> str:
        """The ledger as the prompt shows it: front, recent runs, near-misses, collapses."""
        names = [o.name for o in self.config.objectives]
        parts = ["## Kept runs (the front; a hypothesis may name one as its parent)"]
        parts += [_line(r, names) for r in self.front] or ["(none yet)"]
        parts.append(f"\n## Last {RECENT} experiments")
        parts += [_line(r, names) for r in self.recent()] or ["(none yet)"]
        nm = self.near_misses()
        if nm:
            parts.append("\n## Near-misses (discarded, but within noise of the best on some objective)")
            parts += [_line(r, names) for r in nm[-RECENT:]]
        col = self.collapses()
        if col:
            parts.append("\n## Collapses (a floor broke: avoid these directions)")
            parts += [_line(r, names) for r in col[-RECENT:]]
        if self.eps:
            parts.append("\nNoise margins (eps): " + ", ".join(f"{k} {v:.4f}" for k, v in self.eps.items()))
        return "\n".join(parts)


def _best(records: list[dict[str, Any]], name: str, direction: str) -> float | None:
    vals = [r["metrics"][name] for r in records if name in (r.get("metrics") or {})]
    if not vals:
        return None
    return max(vals) if direction == "maximize" else min(vals)


def _line(r: dict[str, Any], names: list[str]) -> str:
    m = r.get("metrics") or {}
    figs = " ".join(f"{n}={m[n]:.4f}" for n in names if isinstance(m.get(n), (int, float)))
    return f"- {r.get('id')} [{r.get('status')}] {r.get('title', '')} {figs} :: {r.get('reason', '')}".rstrip()
