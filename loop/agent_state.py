"""The loop's state as an agent (or `gg-research status`) sees it: what the API proposer's prompt shows.

Kept runs and the Pareto front among them, recent runs, near misses, collapses, noise margins,
the mutable files' names, and whatever is running. Read from the ledger only: no lock is taken,
so a status can be asked while an experiment runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gg_research.config import Config
from gg_research.loop.keep import weak_baseline_notice
from gg_research.loop.state import LoopState
from gg_research.results.isolation import unboxed_notice
from gg_research.results.journal import imported_history
from gg_research.results.ledger import Experiment, LedgerFile, Status
from gg_research.results.pareto import pareto_mask
from gg_research.workspace_map import branch


def brief(exp: Experiment, names: list[str]) -> dict[str, Any]:
    """One experiment in a line of JSON: id, title, status, objectives, why."""
    return {"id": exp.id, "title": exp.title, "status": exp.status.value, "proposer": exp.proposer,
            "parent": exp.parent, "commit": exp.commit[:12],
            "metrics": {n: exp.metrics[n] for n in names if n in exp.metrics}, "reason": exp.reason}


def loop_state(workspace: Path, config: Config, tag: str) -> dict[str, Any]:
    names = [o.name for o in config.objectives]
    ledger = LedgerFile(workspace, names).read()
    mine = [e for e in ledger.experiments if e.tag == tag]
    finished = [e for e in mine if e.status.final]
    base = next((e for e in reversed(finished) if e.status is Status.BASELINE), None)
    state = LoopState(workspace=Path(workspace), tag=tag, config=config, brief="", files={}, records=finished,
                      eps=dict(base.epsilon) if base else {}, history=imported_history(ledger.experiments))
    kept = [e for e in state.kept if e.has_metrics(names)]
    front: list[Experiment] = []
    if kept:
        mask = pareto_mask([[e.metrics[n] for n in names] for e in kept], [o.direction for o in config.objectives])
        front = [e for e, on in zip(kept, mask) if on]
    latest = state.kept[-1] if state.kept else None
    weak = weak_baseline_notice(config.objectives, [s.metrics for s in base.seeds if s.ok],
                                config.run.budget) if base else None
    return {
        "tag": tag,
        "branch": branch(tag),
        "mutable_files": list(config.workspace.mutable),
        "brief": config.workspace.brief,
        "objectives": [{"name": o.name, "direction": o.direction} for o in config.objectives],
        "budget_s": config.run.budget_s,
        "experiments": len(finished),
        "baseline": brief(base, names) if base else None,
        "latest_kept": brief(latest, names) if latest else None,
        "front": [brief(e, names) for e in front],
        "kept": [brief(e, names) for e in state.kept],
        "recent": [brief(e, names) for e in state.recent()],
        "near_misses": [brief(e, names) for e in state.near_misses()],
        "collapses": [brief(e, names) for e in state.collapses()],
        "noise_margins": state.eps,
        # A start line without an end line: running now, or its process died (the next step records it).
        "running": [brief(e, names) for e in mine if not e.status.final],
        "summary": state.summary_text(),
        "warnings": list(ledger.warnings) + [n for n in [unboxed_notice(mine), weak] if n],
    }


def state_text(st: dict[str, Any]) -> str:
    """The state for a terminal: a header, then the prompt's ledger summary."""
    objectives = ", ".join(f"{o['name']} ({o['direction']})" for o in st["objectives"])
    lines = [f"loop {st['tag']} (branch {st['branch']}): {st['experiments']} finished experiment(s)",
             f"mutable: {', '.join(st['mutable_files'])}; objectives: {objectives}; budget {st['budget_s']:g} s"]
    if st["baseline"] is None:
        lines.append("no baseline yet: the first step measures it before running the edit")
    for r in st["running"]:
        lines.append(f"running: {r['id']} {r['title']} (or its process died; the next step records it)")
    if st["front"]:
        lines.append("Pareto front: " + ", ".join(f"{r['id']} " + " ".join(f"{k}={v:.4f}" for k, v in r["metrics"].items())
                                                  for r in st["front"]))
    lines += ["", st["summary"]]
    lines += [f"warning: {w}" for w in st["warnings"]]
    return "\n".join(lines)
